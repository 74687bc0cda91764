import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQueue } from '../../src/queue/queue.ts';
import type { BulkRecord, Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { failJobs } from '../helpers/failed-jobs.ts';
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

    /** The failed jobs, made through the store's own claim and outcome path (as a worker whose task failed). */
    const makeFailed = async () => {
      await failJobs(store, {
        n: FAILED,
        task: 'record',
        queue: 'default',
        chunk: 5000,
        error: { name: 'Error', message: 'the API was down', code: 'E_DOWN' },
      });
      assert.equal((await store.jobCount({})).failed, FAILED);
    };

    test('every job runs exactly once more, nothing lost', { timeout: TIMEOUT }, async () => {
      await makeFailed();
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
