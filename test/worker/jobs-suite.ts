import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { defineTask } from '../../src/task/define-task-node.ts';
import { PermanentFailure } from '../../src/core/errors.ts';
import type { MakeStoreFactory } from '../store-contract/factory.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { waitFor } from '../helpers/temp.ts';

/** What a worker does with jobs (retries, snoozes, timeouts, progress, cancellation, concurrency, delays, leases), on one store. */
export function jobsSuite(makeFactory: MakeStoreFactory): void {
  const started: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const attemptsSeen = new Map<string, number[]>();

  const echo = defineTask({
    name: 'echo',
    run: async (payload: { n: number }) => ({ doubled: payload.n * 2 }),
  });
  const order = defineTask({
    name: 'order',
    run: async (payload: { label: string }) => void started.push(payload.label),
  });
  const flaky = defineTask({
    name: 'flaky',
    attempts: 3,
    backoff: 20,
    run: async (payload: { failTimes: number }, ctx) => {
      attemptsSeen.set(ctx.job.id, [...(attemptsSeen.get(ctx.job.id) ?? []), ctx.job.attempt]);
      if (ctx.job.attempt <= payload.failTimes) throw new Error(`boom ${ctx.job.attempt}`);
      return ctx.job.attempt;
    },
  });
  const giveUp = defineTask({
    name: 'give-up',
    attempts: 5,
    run: async (_: unknown, ctx) => ctx.fail('bad input, no point retrying'),
  });
  const permanent = defineTask({
    name: 'permanent',
    attempts: 5,
    run: async () => {
      throw new PermanentFailure('thrown for good');
    },
  });
  const snoozer = defineTask({
    name: 'snoozer',
    run: async (_: unknown, ctx) => {
      attemptsSeen.set(ctx.job.id, [...(attemptsSeen.get(ctx.job.id) ?? []), ctx.job.attempt]);
      if ((attemptsSeen.get(ctx.job.id) ?? []).length === 1) ctx.snooze(30);
      return 'woke';
    },
  });
  const slow = defineTask({
    name: 'slow',
    timeout: 100,
    attempts: 1,
    run: async (_: unknown, ctx) => {
      await sleep(10_000, undefined, { signal: ctx.signal });
    },
  });
  const progress = defineTask({
    name: 'progress',
    run: async (_: unknown, ctx) => {
      for (let p = 0; p <= 100; p += 25) ctx.progress({ p });
      await sleep(120);
      ctx.progress({ p: 'done' });
      return 'ok';
    },
  });
  const cancellable = defineTask({
    name: 'cancellable',
    run: async (_: unknown, ctx) => {
      await new Promise<void>((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
      );
    },
  });
  const limited = defineTask({
    name: 'limited',
    queue: 'narrow',
    run: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(20);
      inFlight--;
    },
  });
  const badResult = defineTask({
    name: 'bad-result',
    attempts: 1,
    run: async () => ({ when: () => 1 }) as unknown,
  });

  describe('worker', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness(
        [
          echo,
          order,
          flaky,
          giveUp,
          permanent,
          snoozer,
          slow,
          progress,
          cancellable,
          limited,
          badResult,
        ],
        {
          queues: { default: { concurrency: 10 }, narrow: { concurrency: 2 } },
        },
        makeFactory,
      );
    });
    after(() => h.close());

    it('runs a job and records its result', async () => {
      const job = await h.queue.enqueue(echo, { n: 21 });
      const done = await h.finished(job.id);
      assert.equal(done.state, 'succeeded');
      assert.deepEqual(done.result, { doubled: 42 });
      assert.equal(done.attempts, 1);
      assert.ok(done.startedAt! >= done.createdAt && done.finishedAt! >= done.startedAt!);
    });

    it('starts jobs first-in-first-out by priority', async () => {
      await h.queue.pause('default');
      const jobs = await h.queue.enqueueMany([
        { task: order, payload: { label: 'a' } },
        { task: order, payload: { label: 'b' } },
        { task: order, payload: { label: 'urgent' }, options: { priority: 5 } },
        { task: order, payload: { label: 'c' } },
      ]);
      await h.queue.resume('default');
      for (const job of jobs) await h.finished(job.id);
      assert.deepEqual(started, ['urgent', 'a', 'b', 'c']);
    });

    it('retries a throwing task with backoff, then succeeds', async () => {
      const job = await h.queue.enqueue(flaky, { failTimes: 2 });
      const done = await h.finished(job.id);
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, 3);
      assert.deepEqual(attemptsSeen.get(job.id), [1, 2, 3]);
      assert.equal(done.error?.message, 'boom 2', 'the last error is kept for the record');
    });

    it('fails for good after the last attempt, keeping message, stack and attempt', async () => {
      const job = await h.queue.enqueue(flaky, { failTimes: 9 });
      const done = await h.finished(job.id);
      assert.equal(done.state, 'failed');
      assert.equal(done.error?.message, 'boom 3');
      assert.equal(done.error?.attempt, 3);
      assert.match(done.error?.stack ?? '', /jobs-suite\.ts/);
    });

    it('fails at once on ctx.fail() or a PermanentFailure', async () => {
      for (const task of [giveUp, permanent]) {
        const done = await h.finished((await h.queue.enqueue(task, {})).id);
        assert.equal(done.state, 'failed');
        assert.equal(done.attempts, 1);
      }
    });

    it('snoozes without counting an attempt', async () => {
      const job = await h.queue.enqueue(snoozer, {});
      const done = await h.finished(job.id);
      assert.equal(done.state, 'succeeded');
      assert.equal(done.result, 'woke');
      assert.deepEqual(attemptsSeen.get(job.id), [1, 1]);
    });

    it('aborts the signal at the timeout and fails the run with ERR_TASK_TIMEOUT', async () => {
      const done = await h.finished((await h.queue.enqueue(slow, {})).id);
      assert.equal(done.state, 'failed');
      assert.equal(done.error?.code, 'ERR_TASK_TIMEOUT');
    });

    it('records progress while the job runs', async () => {
      const job = await h.queue.enqueue(progress, {});
      await waitFor(
        async () => ((await h.queue.getJob(job.id))?.progress as { p?: unknown } | null)?.p === 100,
        { what: 'progress 100' },
      );
      const done = await h.finished(job.id);
      assert.deepEqual(done.progress, { p: 'done' });
    });

    it('aborts a running task when its job is cancelled', async () => {
      const job = await h.queue.enqueue(cancellable, {});
      await waitFor(async () => (await h.queue.getJob(job.id))?.state === 'running', {
        what: 'the job to start',
      });
      const ended = new Promise((resolve) =>
        h.worker.on('job:end', (j, outcome) => j.id === job.id && resolve(outcome)),
      );
      await h.queue.cancel(job.id);
      assert.equal(await ended, null, 'nothing is recorded over the cancellation');
      assert.equal((await h.queue.getJob(job.id))?.state, 'cancelled');
    });

    it('keeps to the per-queue concurrency', async () => {
      const jobs = await h.queue.enqueueMany(
        Array.from({ length: 12 }, () => ({ task: limited, payload: {} })),
      );
      for (const job of jobs) await h.finished(job.id);
      assert.equal(maxInFlight, 2);
    });

    it('runs a delayed job only when its time comes', async () => {
      const job = await h.queue.enqueue(echo, { n: 1 }, { delay: 300 });
      assert.equal(job.state, 'scheduled');
      const done = await h.finished(job.id);
      assert.ok(done.startedAt! >= job.runAt, 'not started before its run-at');
    });

    it('fails a job whose result is not JSON-serialisable', async () => {
      const done = await h.finished((await h.queue.enqueue(badResult, {})).id);
      assert.equal(done.state, 'failed');
      assert.equal(done.error?.code, 'ERR_INVALID_RESULT');
    });
  });

  describe('worker leases', () => {
    it('renews the lease of a job that runs longer than the lease', async () => {
      const long = defineTask({
        name: 'long',
        run: async () => {
          await sleep(2_500);
          return 'done';
        },
      });
      const h = await startHarness([long], { leaseMs: 1000, recoveryInterval: 100 }, makeFactory);
      try {
        const job = await h.queue.enqueue(long, {});
        const done = await h.finished(job.id);
        assert.equal(done.state, 'succeeded');
        assert.equal(done.attempts, 1, 'never recovered as if its worker had died');
      } finally {
        await h.close();
      }
    });

    it('refuses an unknown option with a suggestion', async () => {
      const { createWorker } = await import('../../src/worker/worker.ts');
      assert.throws(
        () => createWorker({ store: {} as never, tasks: [echo], concurency: 3 } as never),
        /unknown option `concurency`, did you mean `concurrency`\?/,
      );
    });

    it('stops twice without complaint', async () => {
      const h = await startHarness([echo], {}, makeFactory);
      await Promise.all([h.worker.stop(), h.worker.stop()]);
      await h.close();
    });
  });
}
