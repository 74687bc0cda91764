import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import pino from 'pino';
import type { Job } from '../../src/core/job.ts';
import { createQueue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { leaseOf } from '../../src/worker/job-run.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { Task } from '../../src/task/task.ts';
import { createWorker } from '../../src/worker/worker.ts';
import {
  inlineBadHold,
  inlineRateLimited,
  processBadHold,
  processRateLimited,
  threadBadHold,
  threadRateLimited,
} from '../fixtures/flow-tasks.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { makeTempDir, within } from '../helpers/temp.ts';
import type { MakeStoreFactory } from '../store-contract/factory.ts';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const byAccount = (payload: { account: string }) => payload.account;

/** Runs at once, per key and in all, and the most of each seen. */
class Overlap {
  readonly #running = new Map<string, number>();
  readonly most = new Map<string, number>();
  #total = 0;
  mostInAll = 0;

  begin(key: string): void {
    const running = (this.#running.get(key) ?? 0) + 1;
    this.#running.set(key, running);
    this.most.set(key, Math.max(this.most.get(key) ?? 0, running));
    this.mostInAll = Math.max(this.mostInAll, ++this.#total);
  }

  end(key: string): void {
    this.#running.set(key, this.#running.get(key)! - 1);
    this.#total--;
  }
}

/** The store, its claims counted on their way to it (every call still reaches it). */
function countingClaims(store: Store): { store: Store; readonly claims: number } {
  let claims = 0;
  const counted = new Proxy(store, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      if (name !== 'jobClaim') return bound;
      return (...args: unknown[]) => {
        claims++;
        return bound(...args);
      };
    },
  });
  return {
    store: counted,
    get claims() {
      return claims;
    },
  };
}

/** Flow control declared on tasks, over a real store: limits across workers, order, holds. */
export function flowSuite(makeFactory: MakeStoreFactory): void {
  describe('worker: flow control from task definitions', () => {
    const open: Array<{ close(): Promise<void> }> = [];
    const harness = async (tasks: Task[], options: Parameters<typeof startHarness>[1] = {}) => {
      const h = await startHarness(tasks, { logger: silent, ...options }, makeFactory);
      open.push(h);
      return h;
    };
    const finishedAll = (h: Harness, jobs: readonly Job[]) =>
      Promise.all(jobs.map((job) => h.finished(job.id, 30_000)));
    afterEach(async () => {
      for (const h of open.splice(0).reverse()) await h.close();
    });

    it('runs at most `limit` jobs of one key at once, keys side by side, on a worker of concurrency 20', async () => {
      const overlap = new Overlap();
      const perKey = defineTask({
        name: 'flow-per-key',
        queue: 'flow-per-key',
        concurrency: { limit: 2, key: byAccount },
        run: async ({ account }: { account: string; i: number }) => {
          overlap.begin(account);
          await sleep(10);
          overlap.end(account);
        },
      });
      const h = await harness([perKey] as unknown as Task[], { concurrency: 20 });
      const items = ['a', 'b', 'c'].flatMap((account) =>
        Array.from({ length: 10 }, (_, i) => ({ task: perKey, payload: { account, i } })),
      );
      const done = await finishedAll(h, await h.queue.enqueueMany(items));
      assert.deepEqual(
        done.map((job) => job.state),
        Array<string>(30).fill('succeeded'),
      );
      assert.deepEqual(
        done.map((job) => job.key),
        items.map((item) => item.payload.account),
      );
      for (const account of ['a', 'b', 'c'])
        assert.ok(
          overlap.most.get(account)! <= 2,
          `key ${account} ran ${overlap.most.get(account)} at once`,
        );
      assert.ok(overlap.mostInAll > 2, `keys ran side by side (${overlap.mostInAll} at most)`);
    });

    it('keeps to a global limit across two workers', async () => {
      const overlap = new Overlap();
      const global = defineTask({
        name: 'flow-global',
        queue: 'flow-global',
        concurrency: { global: 3 },
        run: async () => {
          overlap.begin('');
          await sleep(10);
          overlap.end('');
        },
      });
      const h = await harness([global], { concurrency: 10 });
      const second = createWorker({
        store: h.store,
        tasks: [global],
        concurrency: 10,
        pollInterval: 50,
        blockThreshold: 0,
        logger: silent,
      });
      open.push({ close: () => second.stop() });
      await second.start();
      const items = Array.from({ length: 20 }, (_, i) => ({ task: global, payload: { i } }));
      const done = await finishedAll(h, await h.queue.enqueueMany(items));
      assert.ok(done.every((job) => job.state === 'succeeded'));
      assert.ok(overlap.mostInAll <= 3, `${overlap.mostInAll} ran at once`);
    });

    it('strict order: a key runs its jobs one at a time in enqueue order, retries included', async () => {
      const overlap = new Overlap();
      const started: Array<{ account: string; seq: number }> = [];
      const strict = defineTask({
        name: 'flow-strict',
        queue: 'flow-strict',
        order: 'strict',
        concurrency: { key: byAccount },
        attempts: 3,
        backoff: 20,
        run: async (
          { account, seq, fails }: { account: string; seq: number; fails: number },
          ctx,
        ) => {
          overlap.begin(account);
          started.push({ account, seq });
          await sleep(2);
          overlap.end(account);
          if (ctx.job.attempt <= fails)
            throw new Error(`seq ${seq} fails attempt ${ctx.job.attempt}`);
        },
      });
      const h = await harness([strict] as unknown as Task[], { concurrency: 20 });
      const fails = [0, 1, 0, 2, 0, 1];
      const items = ['a', 'b'].flatMap((account) =>
        fails.map((count, seq) => ({ task: strict, payload: { account, seq, fails: count } })),
      );
      const done = await finishedAll(h, await h.queue.enqueueMany(items));
      assert.ok(done.every((job) => job.state === 'succeeded'));
      const expected = fails.flatMap((count, seq) => Array<number>(count + 1).fill(seq));
      for (const account of ['a', 'b']) {
        const seqs = started.filter((run) => run.account === account).map((run) => run.seq);
        assert.deepEqual(seqs, expected, `the runs of key ${account}, in the order they started`);
        assert.equal(overlap.most.get(account), 1);
      }
    });

    it('ctx.rateLimited requeues without spending an attempt and holds its key; other keys keep running', async () => {
      const HOLD_MS = 500;
      const starts: Array<{ account: string; i: number; at: number }> = [];
      let calledAt = 0;
      const limited = defineTask({
        name: 'flow-rate-limited',
        queue: 'flow-rate-limited',
        concurrency: { limit: 1, key: byAccount },
        attempts: 1,
        run: async ({ account, i }: { account: string; i: number }, ctx) => {
          starts.push({ account, i, at: Date.now() });
          if (account === 'a' && i === 0 && calledAt === 0) {
            calledAt = Date.now();
            ctx.rateLimited(HOLD_MS);
          }
          await sleep(20);
          return i;
        },
      });
      const h = await harness([limited] as unknown as Task[], { concurrency: 20 });
      const first = await h.queue.enqueue(limited, { account: 'a', i: 0 });
      await within(
        (async () => {
          while (calledAt === 0) await sleep(5);
        })(),
        10_000,
        'the first run',
      );
      const items = ['a', 'b'].flatMap((account) =>
        Array.from({ length: 5 }, (_, i) => ({ task: limited, payload: { account, i: i + 1 } })),
      );
      const done = await finishedAll(h, [first, ...(await h.queue.enqueueMany(items))]);
      assert.ok(done.every((job) => job.state === 'succeeded'));
      assert.equal(done[0]!.attempts, 1, 'the rate-limited run was not counted');
      assert.deepEqual(done[0]!.errors, []);
      const later = starts.filter((run) => run.account === 'a' && run.at > calledAt);
      assert.equal(later.length, 6, 'a-0 again and a-1 to a-5');
      for (const run of later)
        assert.ok(run.at >= calledAt + HOLD_MS, `a-${run.i} started during the hold`);
      assert.ok(
        starts.some((run) => run.account === 'b' && run.at < calledAt + HOLD_MS),
        'key b ran while key a was held',
      );
    });

    it('ctx.rateLimited in inline, thread and process runs; a bad retryAfter fails the run', async () => {
      const { dir, cleanup } = makeTempDir('flow-modes');
      open.push({ close: async () => cleanup() });
      const tasks = [
        inlineRateLimited,
        threadRateLimited,
        processRateLimited,
        inlineBadHold,
        threadBadHold,
        processBadHold,
      ] as unknown as Task[];
      const h = await harness(tasks, {
        pools: {
          thread: { maxWorkers: 1, forwardOutput: false },
          process: { maxWorkers: 1, forwardOutput: false },
        },
      });
      const holds = await Promise.all([
        h.queue.enqueue(inlineRateLimited.name, {
          marker: path.join(dir, 'inline'),
          retryAfter: 200,
        }),
        h.queue.enqueue(threadRateLimited.name, {
          marker: path.join(dir, 'thread'),
          retryAfter: '200ms',
        }),
        h.queue.enqueue(processRateLimited.name, {
          marker: path.join(dir, 'process'),
          retryAfter: 'date:200',
        }),
      ]);
      const bad = await Promise.all([
        h.queue.enqueue(inlineBadHold.name, { retryAfter: 0 }),
        h.queue.enqueue(threadBadHold.name, { retryAfter: '8d' }),
        h.queue.enqueue(processBadHold.name, { retryAfter: 'soon' }),
      ]);
      for (const job of await finishedAll(h, holds)) {
        assert.equal(job.state, 'succeeded', `${job.task}: ${job.error?.message}`);
        assert.equal(job.attempts, 1, `${job.task}: the held run was not counted`);
        const { calledAt, startedAt } = job.result as { calledAt: number; startedAt: number };
        assert.ok(
          startedAt - calledAt >= 200,
          `${job.task} ran again after ${startedAt - calledAt} ms`,
        );
      }
      for (const job of await finishedAll(h, bad)) {
        assert.equal(job.state, 'failed', job.task);
        assert.equal(job.error?.code, 'ERR_INVALID_OPTION', job.task);
        assert.match(job.error!.message, /ctx\.rateLimited: retryAfter/, job.task);
      }
    });

    it('writes the declared limits of served queues at start and leaves other queues alone', async () => {
      const declares = defineTask({
        name: 'flow-declares',
        queue: 'flow-declared',
        concurrency: { limit: 2, key: byAccount, overrides: { big: 5 } },
        rateLimit: { limit: 10, per: '1s', key: byAccount },
        run: () => null,
      });
      const plain = defineTask({ name: 'flow-plain', queue: 'flow-runtime', run: () => null });
      const bare = defineTask({ name: 'flow-bare', queue: 'flow-bare', run: () => null });
      const factory = await makeFactory();
      const store = await factory.open();
      open.push({
        close: async () => {
          await store.close();
          await factory.destroy();
        },
      });
      await store.limitsSet({
        queue: 'flow-runtime',
        layer: 'runtime',
        limits: { concurrency: 4 },
      });
      await harness([declares, plain, bare] as unknown as Task[], { store });
      const declared = await store.limitsGet({ queue: 'flow-declared' });
      assert.deepEqual(declared?.declared, {
        keyConcurrency: 2,
        keyOverrides: { big: 5 },
        keyRate: { limit: 10, per: 1000 },
      });
      const runtime = await store.limitsGet({ queue: 'flow-runtime' });
      assert.equal(runtime?.declared, null);
      assert.deepEqual(runtime?.runtime, { concurrency: 4 });
      assert.equal(await store.limitsGet({ queue: 'flow-bare' }), undefined);
    });

    it('wakes on a job ending elsewhere when its queue is limited, with the poll out of the way', async () => {
      const one = defineTask({
        name: 'flow-one-at-a-time',
        queue: 'flow-one',
        concurrency: { global: 1 },
        run: () => 'ran',
      });
      const factory = await makeFactory();
      const store = await factory.open();
      open.push({
        close: async () => {
          await store.close();
          await factory.destroy();
        },
      });
      await store.limitsSet({ queue: 'flow-one', layer: 'declared', limits: one.limits! });
      // Another worker holds the queue's one slot.
      await createQueue({ store, tasks: [one] }).enqueue(one, null);
      const [elsewhere] = await store.jobClaim({
        workerId: 'elsewhere',
        queues: [{ name: 'flow-one', limit: 1 }],
        tasks: [one.name],
        leaseMs: 60_000,
      });
      assert.ok(elsewhere, 'the other worker claimed the job');
      const counted = countingClaims(store);
      const h = await harness([one], {
        store: counted.store,
        pollInterval: 60_000,
        recoveryInterval: 60_000,
      });
      const before = counted.claims;
      const waiting = await h.queue.enqueue(one, null);
      await sleep(200);
      assert.equal((await h.queue.getJob(waiting.id))?.state, 'queued', 'the slot is taken');
      assert.ok(
        counted.claims - before <= 2,
        `${counted.claims - before} claims while the slot was taken`,
      );
      await store.jobRecordOutcomes([
        { kind: 'succeeded', lease: leaseOf(elsewhere, 'elsewhere'), result: '"ran"' },
      ]);
      const done = await h.finished(waiting.id, 10_000);
      assert.equal(done.state, 'succeeded');
    });

    it('a worker with a limited queue sleeps until the next token instead of spinning', async () => {
      const runs: Array<{ i: number; start: number; end?: number }> = [];
      const rated = defineTask({
        name: 'flow-rated',
        queue: 'flow-rated',
        rateLimit: { limit: 1, per: 300 },
        run: async ({ i }: { i: number }) => {
          const run: { i: number; start: number; end?: number } = { i, start: Date.now() };
          runs.push(run);
          if (i === 0) await sleep(900);
          run.end = Date.now();
        },
      });
      const factory = await makeFactory();
      const store = await factory.open();
      open.push({
        close: async () => {
          await store.close();
          await factory.destroy();
        },
      });
      const counted = countingClaims(store);
      const h = await harness([rated] as unknown as Task[], {
        store: counted.store,
        pollInterval: 60_000,
        recoveryInterval: 60_000,
      });
      const jobs = await h.queue.enqueueMany(
        [0, 1, 2].map((i) => ({ task: rated, payload: { i } })),
      );
      const done = await finishedAll(h, jobs);
      assert.ok(done.every((job) => job.state === 'succeeded'));
      const [slow, second] = [runs.find((run) => run.i === 0)!, runs.find((run) => run.i !== 0)!];
      assert.ok(
        second.start < slow.end!,
        'the next token started a job while the first one still ran (the worker woke for it)',
      );
      assert.ok(counted.claims < 30, `${counted.claims} claims for 3 jobs`);
    });
  });
}
