import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { systemClock } from '../../src/core/clock.ts';
import type { ClaimedJob } from '../../src/core/job.ts';
import { traceIdOf } from '../../src/core/trace-id.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { inlineExecutor } from '../../src/worker/executors.ts';
import { jobLogFields } from '../../src/worker/job-log.ts';
import { JobRun } from '../../src/worker/job-run.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE}-00f067aa0ba902b7-01`;

describe('the trace id of a job, from meta.traceparent', () => {
  it('reads a valid W3C traceparent', () => {
    assert.equal(traceIdOf({ traceparent: TRACEPARENT }), TRACE);
    assert.equal(traceIdOf({ traceparent: TRACEPARENT.toUpperCase() }), TRACE);
    assert.equal(traceIdOf({ traceparent: `01-${TRACE}-00f067aa0ba902b7-00-future` }), TRACE);
  });

  it('is absent without one, or with one that is not valid', () => {
    for (const meta of [
      undefined,
      null,
      'x',
      {},
      { traceparent: 42 },
      { traceparent: 'nonsense' },
      { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
      { traceparent: `ff-${TRACE}-00f067aa0ba902b7-01` },
      { traceparent: `00-${TRACE}-00f067aa0ba902b7-01x` },
      { traceparent: `00-${TRACE.slice(1)}-00f067aa0ba902b7-01` },
    ])
      assert.equal(traceIdOf(meta), undefined, JSON.stringify(meta));
  });

  it('goes on the fields of a job that has one, and only then', () => {
    const job = { id: '7', task: 't', queue: 'q', attempts: 2 };
    assert.deepEqual(jobLogFields(job), { job: '7', task: 't', queue: 'q', attempt: 2 });
    assert.deepEqual(jobLogFields({ ...job, meta: { traceparent: TRACEPARENT } }), {
      job: '7',
      task: 't',
      queue: 'q',
      attempt: 2,
      traceId: TRACE,
    });
  });

  it("is bound to a run's logger: the task's ctx.logger lines carry it", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line)) },
    );
    const task = defineTask({
      name: 'traced',
      run: async (_payload: unknown, ctx) => ctx.logger.info('inside'),
    });
    const job = {
      id: '9',
      queue: 'default',
      task: 'traced',
      payload: null,
      attempts: 1,
      maxAttempts: 1,
      timeoutMs: 0,
      fence: 1,
      meta: { traceparent: TRACEPARENT },
    } as unknown as ClaimedJob;
    const run = new JobRun(job, task, {
      workerId: 'w',
      clock: systemClock,
      maxResultBytes: 1024,
      sliceMs: 10,
      saveProgress: async () => {},
      report: () => {},
      log,
    });
    const outcome = await run.execute(inlineExecutor);
    assert.equal(outcome?.kind, 'succeeded');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg, 'inside');
    assert.equal(lines[0]!.traceId, TRACE);
    assert.equal(lines[0]!.job, '9');
  });
});
