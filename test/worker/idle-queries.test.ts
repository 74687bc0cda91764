import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createQueue, type Queue } from '../../src/queue.ts';
import { createSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { defineTask } from '../../src/task.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

const startedAt = new Map<string, number>();
const quick = defineTask({ name: 'quick', run: async (_: unknown, ctx) => void startedAt.set(ctx.job.id, Date.now()) });

/** What an idle worker asks of its store between jobs: the poll is out of the way (60 s). */
describe('worker: queries of an idle worker', () => {
  const calls = { jobClaim: 0, jobNextRunAt: 0 };
  let store: SqliteStore;
  let queue: Queue;
  let worker: Worker;
  let cleanup: () => void;
  before(async () => {
    const temp = makeTempDir('idle-queries');
    cleanup = temp.cleanup;
    store = createSqliteStore({ path: path.join(temp.dir, 'jobs.db') });
    // Counts the calls on their way to the real store; every call still reaches it.
    const counted = new Proxy(store, {
      get(target, name) {
        const value = Reflect.get(target, name, target) as unknown;
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        if (name !== 'jobClaim' && name !== 'jobNextRunAt') return bound;
        return (...args: unknown[]) => {
          calls[name]++;
          return bound(...args);
        };
      },
    });
    queue = createQueue({ store, tasks: [quick] });
    worker = createWorker({ store: counted, tasks: [quick], pollInterval: 60_000, recoveryInterval: 60_000, blockThreshold: 0 });
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await store.close();
    cleanup();
  });

  it('reads the next run-at once per job, not again after the job ends when nothing happened since', async () => {
    const before = { ...calls };
    for (let i = 0; i < 20; i++) {
      const job = await queue.enqueue(quick, { i });
      await waitFor(async () => (await queue.getJob(job.id))?.state === 'succeeded', { timeoutMs: 10_000, what: `job ${i} to succeed` });
    }
    const claims = calls.jobClaim - before.jobClaim;
    const reads = calls.jobNextRunAt - before.jobNextRunAt;
    assert.ok(claims >= 20, `${claims} claims for 20 jobs`);
    assert.ok(reads >= 20 && reads <= 22, `${reads} next-run-at reads for 20 jobs (each claim that came back short asked before)`);
  });

  it('still starts a delayed job on time, by its timer alone', async () => {
    const job = await queue.enqueue(quick, {}, { delay: 300 });
    const enqueuedAt = Date.now();
    await waitFor(() => startedAt.has(job.id), { timeoutMs: 10_000, what: 'the delayed job to start' });
    const waited = startedAt.get(job.id)! - enqueuedAt;
    assert.ok(waited >= 290, `started after ${waited} ms, before its delay of 300 ms`);
    assert.ok(waited < 5_000, `started after ${waited} ms: its timer did not fire (the poll is 60 s)`);
  });
});
