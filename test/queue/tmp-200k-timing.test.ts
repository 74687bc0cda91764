import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQueue } from '../../src/queue/queue.ts';
import type { BulkRecord, EnqueueParams, Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const FAILED = 200_000;
/** Fresh jobs enqueued while the bulk retry runs: the worker keeps serving them between chunks. */
const FRESH = 2_000;
const TIMEOUT = 15 * 60_000;

/**
 * A bulk retry of 200 000 failed jobs, in chunks, while a worker (its own store connection, as
 * another process would have) runs them and fresh jobs: every job runs exactly once more, none is
 * lost, and the worker keeps finishing jobs while the retry is under way.
 */
for (const kind of testStores) {
  describe(`bulk retry of ${FAILED} failed jobs with a worker running (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let workerStore: Store;
    let worker: Worker | undefined;
    const runs = new Map<string, number>();
    const record = defineTask({
      name: 'record',
      run: (_payload: unknown, ctx) => {
        runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
        return null;
      },
    });

    before(async () => {
      factory = await kind.make('bulk-200k');
      store = await factory.open();
      workerStore = await factory.open();
    });
    after(async () => {
      await worker?.stop();
      await workerStore?.close();
      await store?.close();
      await factory?.destroy();
    });

    const job = (): EnqueueParams => ({
      task: 'record',
      queue: 'default',
      payload: '{}',
      priority: 0,
      runAt: Date.now() - 1,
      maxAttempts: 1,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
    });

    /** The failed jobs, made through the store's own claim and outcome path (as a worker whose task failed). */
    const makeFailed = async () => {
      for (let made = 0; made < FAILED; made += 5000)
        await store.jobEnqueueMany(Array.from({ length: 5000 }, job));
      for (;;) {
        const claimed = await store.jobClaim({
          workerId: 'setup',
          queues: [{ name: 'default', limit: 5000 }],
          tasks: ['record'],
          leaseMs: 600_000,
        });
        if (claimed.length === 0) break;
        await store.jobRecordOutcomes(
          claimed.map((j) => ({
            kind: 'failed' as const,
            lease: { id: j.id, workerId: 'setup', attempt: j.attempts, fence: j.fence },
            error: { name: 'Error', message: 'the API was down', code: 'E_DOWN' },
            retryAt: null,
          })),
        );
      }
      assert.equal((await store.jobCount({})).failed, FAILED);
    };

    test('every job runs exactly once more, nothing lost', { timeout: TIMEOUT }, async () => {
      const t0 = Date.now();
      await makeFailed();
      console.error(kind.name, 'setup', Date.now() - t0);
      worker = createWorker({
        store: workerStore,
        tasks: [record],
        pollInterval: 50,
        blockThreshold: 0,
        retention: false,
      });
      await worker.start();
      const queue = createQueue({ store });

      const handle = await queue.bulk({
        action: 'retry',
        filter: { task: 'record', errorCode: 'E_DOWN' },
      });
      assert.equal((await handle.progress()).matched, FAILED);
      const fresh = queue.enqueueMany(
        Array.from({ length: FRESH }, () => ({ task: record, payload: {} })),
      );
      const seen: BulkRecord[] = [];
      let runsWhileRunning = 0;
      const watching = (async () => {
        for (;;) {
          const now = await createQueue({ store: workerStore }).getBulk(handle.id);
          if (!now || now.state !== 'running') return;
          seen.push(now);
          runsWhileRunning = runs.size;
          await sleep(20);
        }
      })();
      const freshIds = (await fresh).map((j) => j.id);
      const end = await handle.done;
      console.error(kind.name, 'bulk done', Date.now() - t0);
      await watching;
      assert.equal(end.state, 'done');
      assert.equal(end.done, FAILED);
      assert.equal(end.skipped, 0);
      assert.ok(
        seen.some((r) => r.done > 0 && r.done < FAILED),
        'progress was readable mid-way from another connection',
      );
      assert.ok(runsWhileRunning > 0, 'the worker finished jobs while the retry ran');

      const total = FAILED + FRESH;
      const deadline = Date.now() + TIMEOUT;
      while (Date.now() < deadline) {
        if ((await store.jobCount({})).succeeded === total) break;
        await sleep(200);
      }
      console.error(kind.name, 'all ran', Date.now() - t0);
      const counts = await store.jobCount({});
      assert.deepEqual(counts, {
        scheduled: 0,
        queued: 0,
        claimed: 0,
        running: 0,
        succeeded: total,
        failed: 0,
        cancelled: 0,
      });
      assert.equal(runs.size, total, 'every job ran');
      const twice = [...runs].filter(([, n]) => n !== 1);
      assert.deepEqual(twice, [], 'no job ran twice');
      for (const id of freshIds) assert.equal(runs.get(id), 1);
    });
  });
}
