import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';
import { waitFor, within } from '../helpers/temp.ts';

const silent = pino({ level: 'silent' });

/** Gates a test opens by hand: a job of `gated` runs until its gate is opened. */
const gates = new Map<string, () => void>();
const gated = defineTask({
  name: 'gated',
  run: ({ gate }: { gate: string }) =>
    new Promise<string>((resolve) => gates.set(gate, () => resolve(gate))),
});
const quick = defineTask({ name: 'quick', run: ({ n }: { n: number }) => n * 2 });
const failing = defineTask({
  name: 'failing',
  attempts: 1,
  run: () => {
    throw new Error('no luck');
  },
});
const retrying = defineTask({
  name: 'retrying',
  attempts: 3,
  backoff: 3_600_000,
  run: () => {
    throw new Error('later');
  },
});
/** Enqueues a follow-up while it runs: a job that becomes due during runUntilIdle runs too. */
let followUps: Queue | undefined;
const chaining = defineTask({
  name: 'chaining',
  run: async () => {
    await followUps!.enqueue(quick, { n: 21 });
    return 'chained';
  },
});
const tasks = [gated, quick, failing, retrying, chaining];

/** Resolves on the first `job:start` of a job of `task`. */
function started(worker: Worker, task: string): Promise<string> {
  return new Promise((resolve) => {
    const listener = (job: { id: string; task: string }) => {
      if (job.task !== task) return;
      worker.off('job:start', listener);
      resolve(job.id);
    };
    worker.on('job:start', listener);
  });
}

for (const backend of testStores) {
  describe(`worker pause, resume and runUntilIdle: ${backend.name}`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    before(async () => {
      factory = await backend.make('pause-idle');
      store = await factory.open();
      queue = createQueue({ store });
      followUps = queue;
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    it('stop() while start() is under way leaves nothing running: no claim, no poll', async () => {
      const worker = createWorker({ store, tasks, logger: silent, pollInterval: 50 });
      const starting = worker.start();
      await worker.stop();
      await starting;
      const job = await queue.enqueue(quick, { n: 1 });
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(
        (await queue.getJob(job.id))?.state,
        'queued',
        'a stopped worker claims nothing',
      );
      await queue.cancel(job.id);
    });

    it('pause() stops claiming, lets the running job finish; resume() claims again', async () => {
      const worker = createWorker({ store, tasks, logger: silent, pollInterval: 50 });
      try {
        await worker.start();
        const running = started(worker, 'gated');
        const first = await queue.enqueue(gated, { gate: 'first' });
        await within(running, 10_000, 'the first job starting');
        await worker.pause();
        assert.equal(worker.paused, true);
        const waiting = await queue.enqueue(quick, { n: 1 });
        gates.get('first')!();
        await waitFor(async () => (await queue.getJob(first.id))?.state === 'succeeded', {
          what: 'the running job to finish while paused',
        });
        // Several polls and the end of a job: a paused worker claims on none of them.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal((await queue.getJob(waiting.id))?.state, 'queued');
        assert.equal(worker.running, 0);
        worker.resume();
        assert.equal(worker.paused, false);
        await waitFor(async () => (await queue.getJob(waiting.id))?.state === 'succeeded', {
          what: 'the waiting job to run after resume',
        });
        assert.equal((await queue.getJob(waiting.id))?.result, 2);
      } finally {
        await worker.stop();
      }
    });

    it('a worker paused before start claims nothing until resumed', async () => {
      const worker = createWorker({ store, tasks, logger: silent, pollInterval: 50 });
      try {
        await worker.pause();
        const job = await queue.enqueue(quick, { n: 5 });
        await worker.start();
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal((await queue.getJob(job.id))?.state, 'queued');
        worker.resume();
        await waitFor(async () => (await queue.getJob(job.id))?.state === 'succeeded', {
          what: 'the job to run after resume',
        });
      } finally {
        await worker.stop();
      }
    });

    it('runUntilIdle() runs what is due, follow-ups included, then stops with a summary', async () => {
      const done = await Promise.all(
        Array.from({ length: 10 }, (_, n) => queue.enqueue(quick, { n })),
      );
      const lost = await queue.enqueue(failing, {});
      const again = await queue.enqueue(retrying, {});
      const chain = await queue.enqueue(chaining, {});
      const later = await queue.enqueue(quick, { n: 99 }, { delay: 3_600_000 });
      const worker = createWorker({ store, tasks, logger: silent, concurrency: 4 });
      await worker.pause();
      const summary = await within(worker.runUntilIdle(), 30_000, 'runUntilIdle');
      assert.deepEqual(
        { ...summary, durationMs: 0 },
        { jobs: 14, succeeded: 12, failed: 1, retried: 1, snoozed: 0, abandoned: 0, durationMs: 0 },
      );
      assert.ok(summary.durationMs >= 0);
      for (const job of [...done, chain])
        assert.equal((await queue.getJob(job.id))?.state, 'succeeded');
      assert.equal((await queue.getJob(lost.id))?.state, 'failed');
      assert.equal((await queue.getJob(again.id))?.state, 'scheduled');
      assert.equal((await queue.getJob(later.id))?.state, 'scheduled');
      const followUp = (await queue.listJobs({ task: 'quick', state: 'succeeded' })).jobs.find(
        (job) => (job.payload as { n: number }).n === 21,
      );
      assert.ok(followUp, 'the job enqueued by a running task ran too');
      assert.equal(worker.running, 0);
      const registered = await store.workerList({ since: 0 });
      assert.ok(!registered.some((entry) => entry.id === worker.id), 'the worker stopped');
      await assert.rejects(
        worker.runUntilIdle(),
        (error: unknown) =>
          error instanceof OffloadError && error.code === ErrorCodes.WORKER_STOPPED,
      );
    });

    it('runUntilIdle() on a store with nothing due resolves at once with an empty summary', async () => {
      const worker = createWorker({ store, tasks: [quick], logger: silent, queues: ['empty'] });
      const summary = await within(worker.runUntilIdle(), 10_000, 'runUntilIdle');
      assert.equal(summary.jobs, 0);
    });
  });
}
