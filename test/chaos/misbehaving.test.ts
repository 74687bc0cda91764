import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createQueue } from '../../src/queue/queue.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Job } from '../../src/core/job.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';
import { startFixture, stopFixture } from './processes.ts';

/** Each bad task, the error code its jobs must end with, and a pattern of the message. */
const BAD: Record<string, { code?: string; message: RegExp }> = {
  'thread-throw': { message: /throws on purpose/ },
  'thread-exit': { code: 'ERR_WORKER_CRASHED', message: /exit|code 3/i },
  'thread-oom': { code: 'ERR_WORKER_CRASHED', message: /out of memory/ },
  'thread-loop': { code: 'ERR_TASK_TIMEOUT', message: /500 ms|timed out|timeout/i },
  'process-throw': { message: /throws on purpose/ },
  'process-exit': { code: 'ERR_WORKER_CRASHED', message: /exit|code 3/i },
  'process-oom': { code: 'ERR_WORKER_CRASHED', message: /out of memory/ },
  'process-loop': { code: 'ERR_TASK_TIMEOUT', message: /500 ms|timed out|timeout/i },
  'process-segfault': { code: 'ERR_WORKER_CRASHED', message: /SIGSEGV/ },
};
const GOOD_PER_MODE = 150;
const EACH_BAD = 2;

describe('chaos: misbehaving tasks mixed into the load (thread and process mode)', () => {
  const temp = makeTempDir('chaos-bad');
  after(() => temp.cleanup());

  it(
    'fails only the bad jobs, each with the right error, while everything else completes and the worker lives on',
    { timeout: 180_000 },
    async () => {
      const db = path.join(temp.dir, 'jobs.db');
      const store = createSqliteStore({ path: db });
      const worker = await startFixture('chaos-worker.ts', {
        OFFLOAD_CHAOS_DB: db,
        OFFLOAD_CHAOS_TASKS: 'misbehaving',
        OFFLOAD_CHAOS_CONCURRENCY: '8',
      });
      try {
        const queue = createQueue({ store });
        const items: Array<{ task: string; payload: unknown }> = [];
        for (let n = 0; n < GOOD_PER_MODE; n++) {
          items.push({ task: 'thread-ok', payload: { n } }, { task: 'process-ok', payload: { n } });
          if (n % Math.floor(GOOD_PER_MODE / EACH_BAD) === 7)
            for (const task of Object.keys(BAD)) items.push({ task, payload: null });
        }
        const jobs: Job[] = await queue.enqueueMany(
          items.map((item) => ({ task: item.task, payload: item.payload })),
        );
        const total = jobs.length;
        await waitFor(
          async () => {
            const counts = await store.jobCount({});
            return counts.succeeded + counts.failed === total;
          },
          { what: 'every job to end', timeoutMs: 150_000, intervalMs: 200 },
        );

        const counts = await store.jobCount({});
        const badTotal = Object.keys(BAD).length * EACH_BAD;
        assert.deepEqual(counts, {
          scheduled: 0,
          queued: 0,
          claimed: 0,
          running: 0,
          succeeded: total - badTotal,
          failed: badTotal,
          cancelled: 0,
        });
        const failed = (await store.jobList({ state: 'failed', limit: 1000 })).jobs;
        const byTask = new Map<string, number>();
        for (const job of failed) {
          const expected = BAD[job.task];
          assert.ok(
            expected,
            `only bad tasks fail, but ${job.task} (job ${job.id}) failed: ${job.error?.message}`,
          );
          if (expected.code)
            assert.equal(job.error?.code, expected.code, `${job.task}: ${job.error?.message}`);
          assert.match(job.error!.message, expected.message, job.task);
          byTask.set(job.task, (byTask.get(job.task) ?? 0) + 1);
        }
        for (const task of Object.keys(BAD))
          assert.equal(byTask.get(task), EACH_BAD, `${task} jobs failed`);
        assert.equal(worker.child.exitCode, null, 'the worker process is alive');
        assert.equal(worker.child.signalCode, null, 'the worker process is alive');
        const after = await queue.enqueue('process-ok', { n: -1 });
        await waitFor(async () => (await store.jobGet({ id: after.id }))!.state === 'succeeded', {
          what: 'a job after the storm to succeed',
          timeoutMs: 30_000,
        });
      } finally {
        assert.equal(await stopFixture(worker), 0, 'the worker stops cleanly on SIGTERM');
        await store.close();
      }
    },
  );
});
