import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTempDir } from '../helpers/temp.ts';
import { runChaos, type ChaosReport, type StoreKind } from './chaos-run.ts';

/** What every chaos run must show, whatever its size. */
export function assertSurvived(report: ChaosReport): void {
  const summary = JSON.stringify({ ...report, lost: report.lost.slice(0, 5), unexplained: report.unexplained.slice(0, 5) });
  assert.equal(report.acknowledged, report.jobs, `every batch was acknowledged in the end: ${summary}`);
  assert.deepEqual(report.lost, [], `no acknowledged job lost: ${summary}`);
  assert.equal(report.unfinished, 0, `none left running, queued or failed: ${summary}`);
  assert.equal(report.duplicateJobs, 0, `a retried batch made no second job: ${summary}`);
  assert.equal(report.succeeded, report.jobs, summary);
  assert.deepEqual(report.unexplained, [], `extra runs only for jobs whose worker was killed: ${summary}`);
  assert.ok(report.workerKills >= 3, `workers were killed: ${summary}`);
  assert.equal(report.serverKills, 1, summary);
}

describe('chaos (short form): workers and the server SIGKILLed under HTTP load', () => {
  const temp = makeTempDir('chaos');
  after(() => temp.cleanup());

  for (const store of ['sqlite', 'postgres'] as StoreKind[]) {
    it(`${store}: 2 000 jobs, 4 workers, one killed every ~300 ms${store === 'postgres' ? ', connections cut once' : ''}: none lost`, { timeout: 240_000 }, async () => {
      const report = await runChaos({ store, jobs: 2_000, workers: 4, killEveryMs: 300, database: 'terminate', dir: temp.dir });
      assertSurvived(report);
      if (store === 'postgres') assert.equal(report.databaseCuts, 1);
    });
  }
});
