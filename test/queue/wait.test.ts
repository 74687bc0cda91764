import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import { JobWaits } from '../../src/queue/job-waits.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { boom, echo } from '../fixtures/wait-tasks.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

/** queue.wait and queue.run over a real store of each kind, with a worker in this process. */
for (const kind of testStores) {
  describe(`queue.wait and queue.run (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    let worker: Worker;
    before(async () => {
      factory = await kind.make('queue-wait');
      store = await factory.open();
      queue = createQueue({ store, tasks: [echo, boom] });
      worker = createWorker({
        store,
        tasks: [echo, boom],
        pollInterval: 50,
        blockThreshold: 0,
        logger: pino({ level: 'silent' }),
      });
      await worker.start();
    });
    after(async () => {
      await worker?.stop();
      await store?.close();
      await factory?.destroy();
    });

    /** The error a call rejects with, which must be an OffloadError with `code`. */
    const refusal = async (call: Promise<unknown>, code: string): Promise<OffloadError> => {
      const error = await call.then(
        (value) => assert.fail(`expected ${code}, got ${JSON.stringify(value)}`),
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      return error;
    };
    /** A job no worker takes yet: due in a minute. */
    const later = () => queue.enqueue(echo, { text: 'later' }, { delay: 60_000 });

    test('run resolves with the typed result of the job', async () => {
      const result: { text: string; pid: number } = await queue.run(echo, { text: 'hi' });
      assert.deepEqual(result, { text: 'hi', pid: process.pid });
    });

    test('wait takes the job or its id; many waits on one job all resolve', async () => {
      const job = await queue.enqueue(echo, { text: 'many', ms: 50 });
      const results = await Promise.all([
        queue.wait(job),
        ...Array.from({ length: 50 }, () => queue.wait<typeof echo>(job.id)),
      ]);
      assert.equal(results.length, 51);
      for (const result of results) assert.equal(result.text, 'many');
      assert.equal(JobWaits.of(store).size, 0, 'no wait is left registered');
    });

    test('500 waits share one set of store listeners, held only while waits are', async () => {
      const subscribe = store.on.bind(store);
      const subscribed: string[] = [];
      store.on = ((event, listener) => {
        subscribed.push(event);
        return subscribe(event, listener);
      }) as Store['on'];
      try {
        const jobs = await queue.enqueueMany(
          Array.from({ length: 500 }, (_, i) => ({
            task: echo,
            payload: { text: `w${i}` },
            options: { delay: 60_000 },
          })),
        );
        const waits = jobs.map((job) =>
          queue.wait(job).then(
            () => 'succeeded',
            (error: OffloadError) => error.code,
          ),
        );
        assert.deepEqual(subscribed.sort(), [
          'job:cancelled',
          'job:failed',
          'job:succeeded',
          'store:changed',
        ]);
        assert.equal(JobWaits.of(store).size, 500);
        for (const job of jobs) await queue.cancel(job.id);
        assert.deepEqual(new Set(await Promise.all(waits)), new Set([ErrorCodes.JOB_CANCELLED]));
        assert.equal(JobWaits.of(store).size, 0);
        assert.equal(subscribed.length, 4, 'no listener per wait');
      } finally {
        store.on = subscribe;
      }
    });

    test('a job that failed for good rejects with ERR_JOB_FAILED carrying its error', async () => {
      const error = await refusal(
        queue.run(boom, { message: 'disk on fire' }),
        ErrorCodes.JOB_FAILED,
      );
      assert.match(error.message, /failed for good after 1 attempt: disk on fire/);
      assert.ok(error.cause instanceof Error);
      assert.equal(error.cause.message, 'disk on fire');
      assert.equal((error.cause as { code?: string }).code, 'E_BOOM');
      assert.equal((error.details.error as { code?: string }).code, 'E_BOOM');
      assert.equal((error.details.job as { state: string }).state, 'failed');
    });

    test('a cancelled job rejects with ERR_JOB_CANCELLED', async () => {
      const job = await later();
      const waiting = refusal(queue.wait(job), ErrorCodes.JOB_CANCELLED);
      await queue.cancel(job.id);
      const error = await waiting;
      assert.equal(error.details.id, job.id);
    });

    test('timeout rejects with ERR_WAIT_TIMEOUT and leaves the job alone', async () => {
      const job = await later();
      const started = Date.now();
      await refusal(queue.wait(job, { timeout: 80 }), ErrorCodes.WAIT_TIMEOUT);
      assert.ok(Date.now() - started >= 75, 'waited about the timeout');
      await refusal(queue.wait(job, { timeout: 0 }), ErrorCodes.WAIT_TIMEOUT);
      assert.equal((await queue.getJob(job.id))!.state, 'scheduled');
      assert.equal(JobWaits.of(store).size, 0);
      await queue.cancel(job.id);
    });

    test('an aborted signal rejects with ERR_WAIT_ABORTED, before or during the wait', async () => {
      const job = await later();
      const controller = new AbortController();
      const waiting = refusal(
        queue.wait(job, { signal: controller.signal }),
        ErrorCodes.WAIT_ABORTED,
      );
      controller.abort(new Error('user left'));
      const error = await waiting;
      assert.equal((error.cause as Error).message, 'user left');
      await refusal(
        queue.run(echo, { text: 'x' }, { delay: 60_000, signal: AbortSignal.abort() }),
        ErrorCodes.WAIT_ABORTED,
      );
      assert.equal((await queue.getJob(job.id))!.state, 'scheduled');
      await queue.cancel(job.id);
    });

    test('a job that already ended resolves (or rejects) at once', async () => {
      const done = await queue.enqueue(echo, { text: 'done' });
      await queue.wait(done);
      const started = performance.now();
      assert.equal((await queue.wait<typeof echo>(done.id, { timeout: 0 })).text, 'done');
      assert.ok(performance.now() - started < 100);
      const cancelled = await later();
      await queue.cancel(cancelled.id);
      await refusal(queue.wait(cancelled.id), ErrorCodes.JOB_CANCELLED);
    });

    test('an unknown id rejects with ERR_JOB_NOT_FOUND', async () => {
      for (const id of ['987654321', 'no-such-job']) {
        const error = await refusal(queue.wait(id), ErrorCodes.JOB_NOT_FOUND);
        assert.equal(error.details.id, id);
      }
    });

    test('bad options are refused with ERR_INVALID_OPTION, and run enqueues nothing', async () => {
      const job = await later();
      for (const timeout of [-1, 1.5, Number.NaN, 2 ** 31, '10' as unknown as number]) {
        const error = await refusal(queue.wait(job, { timeout }), ErrorCodes.INVALID_OPTION);
        assert.match(error.message, /timeout/);
      }
      await refusal(
        queue.wait(job, { signal: 'stop' as unknown as AbortSignal }),
        ErrorCodes.INVALID_OPTION,
      );
      for (const bad of ['', 42, null, {}])
        await refusal(queue.wait(bad as unknown as string), ErrorCodes.INVALID_OPTION);
      const before = await queue.countJobs({ task: 'echo' });
      await refusal(queue.run(echo, { text: 'x' }, { waitTimeout: -5 }), ErrorCodes.INVALID_OPTION);
      assert.deepEqual(await queue.countJobs({ task: 'echo' }), before);
      assert.equal(JobWaits.of(store).size, 0);
      await queue.cancel(job.id);
    });
  });
}
