import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTempDir } from '../helpers/temp.ts';
import { assertSurvived } from './assert-survived.ts';
import { runChaos, type StoreKind } from './chaos-run.ts';

describe('chaos (short form): workers and the server SIGKILLed under HTTP load', () => {
  const temp = makeTempDir('chaos');
  after(() => temp.cleanup());

  for (const store of ['sqlite', 'postgres'] as StoreKind[]) {
    it(
      `${store}: 2 000 jobs, 4 workers, one killed every ~300 ms${store === 'postgres' ? ', connections cut once' : ''}: none lost`,
      { timeout: 240_000 },
      async () => {
        const report = await runChaos({
          store,
          jobs: 2_000,
          workers: 4,
          killEveryMs: 300,
          dir: temp.dir,
        });
        assertSurvived(report);
        if (store === 'postgres') assert.equal(report.databaseCuts, 1);
      },
    );
  }
});
