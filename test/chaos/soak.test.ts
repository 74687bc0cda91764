import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTempDir } from '../helpers/temp.ts';
import type { StoreKind } from './chaos-run.ts';
import { runSoak } from './soak-run.ts';

/**
 * The short soak: 20 000 jobs take seconds, too short to prove memory flat (the long form,
 * `npm run chaos`, asserts growth under 10 % over 500 000 jobs). Here a generous bound catches a
 * gross leak, and retention must have deleted most finished jobs.
 */
describe('soak (short form): one server and one worker process', () => {
  const temp = makeTempDir('soak');
  after(() => temp.cleanup());

  for (const store of ['sqlite', 'postgres'] as StoreKind[]) {
    it(
      `${store}: 20 000 jobs over HTTP, memory bounded, finished jobs deleted by retention`,
      { timeout: 180_000 },
      async () => {
        const report = await runSoak({ store, jobs: 20_000, retentionMs: 250, dir: temp.dir });
        const summary = JSON.stringify(report);
        assert.equal(report.failed, 0, summary);
        assert.ok(report.serverRss.growth < 0.3, `server RSS after warm-up: ${summary}`);
        assert.ok(report.workerRss.growth < 0.3, `worker RSS after warm-up: ${summary}`);
        assert.ok(
          report.rowsAtEnd < report.jobs / 2,
          `retention deleted finished jobs: ${summary}`,
        );
      },
    );
  }
});
