import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { createQueue } from '../../src/queue/queue.ts';
import { createWorker } from '../../src/worker/worker.ts';
import {
  inlineLogTasks,
  processLogTasks,
  RETRY_DELAY_MS,
  threadLogTasks,
} from '../fixtures/job-log-tasks.ts';
import { testStores } from '../helpers/stores.ts';

type Line = Record<string, unknown>;

/** A pino logger at `info` whose lines land, parsed, in `lines`. */
function capturingLogger(lines: Line[]): pino.Logger {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
}

const modes = [
  { mode: 'inline', tasks: inlineLogTasks },
  { mode: 'thread', tasks: threadLogTasks },
  { mode: 'process', tasks: processLogTasks },
] as const;

for (const { name, make } of testStores) {
  describe(`a worker's lines about a job (${name})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    for (const { mode, tasks } of modes) {
      it(`${mode}: success, retry and failure carry the job's fields, the retry's delay and time, the error`, async () => {
        const factory = await make(`job-logs-${mode}`);
        const store = await factory.open();
        cleanups.push(
          () => factory.destroy(),
          () => store.close(),
        );
        const lines: Line[] = [];
        const worker = createWorker({
          store,
          tasks: [tasks.ok, tasks.fail],
          logger: capturingLogger(lines),
          id: `log-worker-${mode}`,
          pools: { thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } },
        });
        const queue = createQueue({ store });
        const ok = await queue.enqueue(tasks.ok, { word: 'ok' });
        const retried = await queue.enqueue(tasks.fail, { word: 'luck' }, { attempts: 2 });
        const failed = await queue.enqueue(tasks.fail, { word: 'hope' }, { attempts: 1 });
        const before = Date.now();
        try {
          const summary = await worker.runUntilIdle();
          assert.deepEqual([summary.succeeded, summary.retried, summary.failed], [1, 1, 1]);
        } finally {
          await worker.stop();
        }
        const fieldsOf = (job: { id: string; task: string }) => ({
          job: job.id,
          task: job.task,
          queue: 'default',
          attempt: 1,
          worker: `log-worker-${mode}`,
        });
        const linesOf = (id: string) => lines.filter((line) => line.job === id);

        const okLines = linesOf(ok.id);
        assert.deepEqual(
          okLines.map((line) => line.msg),
          ['working', `job ${ok.id} ${ok.task} succeeded in ${okLines[1]?.durationMs} ms`],
        );
        for (const line of okLines) assert.deepEqual(pick(line, fieldsOf(ok)), fieldsOf(ok));
        assert.equal(typeof okLines[1]!.durationMs, 'number');
        assert.ok(!lines.some((line) => 'traceId' in line), 'no trace id without a traceparent');

        const [retryLine, ...more] = linesOf(retried.id);
        assert.equal(more.length, 0, JSON.stringify(more));
        assert.deepEqual(pick(retryLine!, fieldsOf(retried)), fieldsOf(retried));
        assert.equal(retryLine!.retryInMs, RETRY_DELAY_MS);
        const stored = await store.jobGet({ id: retried.id });
        assert.equal(stored?.state, 'scheduled');
        assert.equal(retryLine!.retryAt, new Date(stored!.runAt).toISOString());
        assert.ok(stored!.runAt >= before + RETRY_DELAY_MS, `${stored!.runAt} vs ${before}`);
        assert.deepEqual(errorOf(retryLine!), ['RangeError', 'no luck', 'E_NO_WORD']);
        assert.match(
          String(retryLine!.msg),
          new RegExp(
            `^job ${retried.id} log-fail-${mode} failed after \\d+ ms \\(attempt 1 of 2\\): RangeError: no luck \\[E_NO_WORD\\]; retry in ${RETRY_DELAY_MS} ms at ${retryLine!.retryAt}$`,
          ),
        );

        const [failLine] = linesOf(failed.id);
        assert.deepEqual(pick(failLine!, fieldsOf(failed)), fieldsOf(failed));
        assert.deepEqual(errorOf(failLine!), ['RangeError', 'no hope', 'E_NO_WORD']);
        assert.ok(!('retryAt' in failLine!) && !('retryInMs' in failLine!));
        assert.match(
          String(failLine!.msg),
          /failed after \d+ ms \(attempt 1 of 1\): RangeError: no hope \[E_NO_WORD\]$/,
        );
      });
    }

    it('a job enqueued with a traceparent in its meta logs its trace id, read back from the store', async () => {
      const factory = await make('job-logs-trace');
      const store = await factory.open();
      cleanups.push(
        () => factory.destroy(),
        () => store.close(),
      );
      const lines: Line[] = [];
      const worker = createWorker({
        store,
        tasks: [inlineLogTasks.ok],
        logger: capturingLogger(lines),
      });
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const queue = createQueue({ store });
      const job = await queue.enqueue(
        inlineLogTasks.ok,
        { word: 'traced' },
        { meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
      );
      try {
        await worker.runUntilIdle();
      } finally {
        await worker.stop();
      }
      const jobLines = lines.filter((line) => line.job === job.id);
      assert.ok(jobLines.length >= 2, JSON.stringify(lines));
      for (const line of jobLines) assert.equal(line.traceId, traceId, JSON.stringify(line));
    });
  });
}

function errorOf(line: Line): unknown[] {
  const err = line.error as { name?: string; message?: string; code?: string; stack?: string };
  assert.equal(err.stack, undefined, 'the stack stays on the job');
  return [err.name, err.message, err.code];
}

function pick(line: Line, like: Line): Line {
  return Object.fromEntries(Object.keys(like).map((key) => [key, line[key]]));
}
