import assert from 'node:assert/strict';
import type { ChaosReport } from './chaos-run.ts';

/** What every chaos run must show, whatever its size. */
export function assertSurvived(report: ChaosReport): void {
  const summary = JSON.stringify({
    ...report,
    lost: report.lost.slice(0, 5),
    unexplained: report.unexplained.slice(0, 5),
  });
  assert.equal(
    report.acknowledged,
    report.jobs,
    `every batch was acknowledged in the end: ${summary}`,
  );
  assert.deepEqual(report.lost, [], `no acknowledged job lost: ${summary}`);
  assert.equal(report.unfinished, 0, `none left running, queued or failed: ${summary}`);
  assert.equal(report.duplicateJobs, 0, `a retried batch made no second job: ${summary}`);
  assert.equal(report.succeeded, report.jobs, summary);
  assert.deepEqual(
    report.unexplained,
    [],
    `extra runs only for jobs whose worker was killed: ${summary}`,
  );
  assert.ok(report.workerKills >= 3, `workers were killed: ${summary}`);
  assert.equal(report.serverKills, 1, summary);
}
