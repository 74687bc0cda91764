import { describe } from 'node:test';
import type { MakeStoreFactory } from '../store-contract/factory.ts';
import { flowSuite } from './flow-suite.ts';
import { idleQueriesSuite } from './idle-queries-suite.ts';
import { jobsSuite } from './jobs-suite.ts';
import { modesSuite } from './modes-suite.ts';

/**
 * The worker's behaviour over a real store: every store runs this suite unchanged (bound in
 * sqlite.test.ts and postgres.test.ts). Each describe gets its own fresh data from `makeFactory`.
 */
export function workerSuite(label: string, makeFactory: MakeStoreFactory): void {
  describe(`worker on ${label}`, () => {
    jobsSuite(makeFactory);
    modesSuite(makeFactory);
    idleQueriesSuite(makeFactory);
    flowSuite(makeFactory);
  });
}
