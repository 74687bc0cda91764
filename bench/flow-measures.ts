/**
 * The three measurements of `bench/flow.bench.ts`, each on a fresh store: the drain of a backlog by
 * one worker (with and without limits, and BullMQ's counterparts), the starts a key rate lets
 * through, and the time of one claim against many running jobs.
 */
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { quantile } from '../src/bench/stats.ts';
import type { ClaimedJob } from '../src/core/job.ts';
import type { JobOutcome, QueueLimits, Store } from '../src/store/contract.ts';
import { leaseOf } from '../src/worker/job-run.ts';
import { createWorker } from '../src/worker/worker.ts';
import {
  enqueueJobs,
  executing,
  noop,
  REDIS_URL,
  timeCalls,
  type CallStats,
  type StoreKind,
} from './flow-stores.ts';

/** Jobs a drain's worker runs at once. */
export const WORKER_CONCURRENCY = 50;
/** Keys of the limited drain, and the limit of each. */
export const KEYS = 100;
export const KEY_CONCURRENCY = 2;
/** The key rate of the accuracy run, over `RATE_KEYS` keys. */
export const KEY_RATE = { limit: 200, per: 1000 };
export const RATE_KEYS = 3;

const silent = pino({ level: 'silent' });
/** Job `n`'s key; the no-op task counts its runs by the same `n % KEYS`. */
const keyed = (n: number) => `k${String(n % KEYS).padStart(3, '0')}`;

export type OffloadSetting = 'unkeyed' | 'keyed' | 'limited';

export interface DrainResult {
  perSecond: number;
  claims: CallStats;
  outcomes: CallStats;
  drainMs: number;
  /** The most jobs of one key between their `job:start` and `job:end` events at once (0: no keys). */
  maxPerKey: number;
  /** The most runs of one key executing the task's code at once (0: no keys). */
  maxExecuting: number;
}

/**
 * Enqueues `jobs` no-op jobs, then times one worker draining them, until the last outcome is
 * committed. `unkeyed`: no keys, no limits; `keyed`: 100 keys, no limits; `limited`: 100 keys,
 * each limited to 2 running (the runtime layer, set before the worker starts).
 */
export async function drainOffload(
  kind: StoreKind,
  setting: OffloadSetting,
  jobs: number,
): Promise<DrainResult> {
  const { store, close, settle } = await kind.open();
  try {
    await enqueueJobs(store, jobs, setting === 'unkeyed' ? () => null : keyed);
    await settle();
    if (setting === 'limited')
      await store.limitsSet({
        queue: noop.queue,
        layer: 'runtime',
        limits: { keyConcurrency: KEY_CONCURRENCY },
      });
    const stats = timeCalls(store);
    const worker = createWorker({
      store,
      tasks: [noop],
      concurrency: WORKER_CONCURRENCY,
      logger: silent,
      blockThreshold: 0,
    });
    executing.byKey.clear();
    executing.most = 0;
    const running = new Map<string, number>();
    let maxPerKey = 0;
    let ended = 0;
    worker.on('job:start', (job) => {
      if (job.key === null) return;
      const now = (running.get(job.key) ?? 0) + 1;
      running.set(job.key, now);
      maxPerKey = Math.max(maxPerKey, now);
    });
    const all = new Promise<void>((resolve) =>
      worker.on('job:end', (job) => {
        if (job.key !== null) running.set(job.key, running.get(job.key)! - 1);
        if (++ended === jobs) resolve();
      }),
    );
    const t = performance.now();
    await worker.start();
    await all;
    const drainMs = performance.now() - t;
    await worker.stop();
    const maxExecuting = setting === 'unkeyed' ? 0 : executing.most;
    return { perSecond: jobs / (drainMs / 1000), drainMs, maxPerKey, maxExecuting, ...stats };
  } finally {
    await close();
  }
}

export type BullSetting = 'plain' | 'global' | 'limiter';

/** BullMQ's global concurrency and rate limit in the drain: far above what one worker reaches. */
export const BULL_GLOBAL_CONCURRENCY = 200;
export const BULL_LIMITER = { max: 100_000, duration: 1000 };

/**
 * The same drain through BullMQ on Redis: a worker of concurrency 50, as is (`plain`), under a
 * global concurrency of 200 (`queue.setGlobalConcurrency`), or with its rate limiter at 100 000
 * jobs per second; removeOnComplete, counted at each `completed`.
 */
export async function drainBullmq(setting: BullSetting, jobs: number): Promise<number> {
  const connections = [0, 1].map(() => new Redis(REDIS_URL, { maxRetriesPerRequest: null }));
  const prefix = 'offload-bench-flow';
  const queue = new BullQueue('flow', { connection: connections[0]!, prefix });
  try {
    await queue.obliterate({ force: true });
    if (setting === 'global') await queue.setGlobalConcurrency(BULL_GLOBAL_CONCURRENCY);
    const opts = { removeOnComplete: true, removeOnFail: true };
    for (let from = 0; from < jobs; from += 1000)
      await queue.addBulk(
        Array.from({ length: Math.min(1000, jobs - from) }, (_, n) => ({
          name: 'noop',
          data: { n: from + n },
          opts,
        })),
      );
    const worker = new BullWorker('flow', async () => null, {
      connection: connections[1]!,
      prefix,
      concurrency: WORKER_CONCURRENCY,
      autorun: false,
      ...(setting === 'limiter' ? { limiter: BULL_LIMITER } : {}),
    });
    let completed = 0;
    const all = new Promise<void>((resolve) =>
      worker.on('completed', () => ++completed === jobs && resolve()),
    );
    const t = performance.now();
    void worker.run();
    await all;
    const perSecond = jobs / ((performance.now() - t) / 1000);
    await worker.close();
    return perSecond;
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    for (const connection of connections) connection.disconnect();
  }
}

/** What one key of the rate run started. */
export interface KeyStarts {
  key: string;
  starts: number;
  /** `limit` times the windows the run touched: the most a sliding window lets through. */
  allowed: number;
  /** Most starts in any window of `per` ms (ending at a start). */
  maxInWindow: number;
  /** Starts in each `per` ms from the run's first start (of any key). */
  perWindow: number[];
  /**
   * How long after a start left the window the start it made room for came (ms): the median and
   * the largest. A start before that would break the limit.
   */
  lagP50: number;
  lagMax: number;
}

/**
 * A backlog over `RATE_KEYS` keys under a key rate of 200 per second, drained by one worker: each
 * key's starts in the `seconds` from the run's first start, by the start times the store recorded.
 */
export async function rateAccuracy(kind: StoreKind, seconds: number): Promise<KeyStarts[]> {
  const { store, close, settle } = await kind.open();
  try {
    const backlog = KEY_RATE.limit * (Math.ceil(seconds) + 2);
    await enqueueJobs(store, backlog * RATE_KEYS, (n) => `r${n % RATE_KEYS}`);
    await settle();
    await store.limitsSet({ queue: noop.queue, layer: 'runtime', limits: { keyRate: KEY_RATE } });
    const worker = createWorker({
      store,
      tasks: [noop],
      concurrency: WORKER_CONCURRENCY,
      logger: silent,
      blockThreshold: 0,
    });
    const starts = new Map(
      Array.from({ length: RATE_KEYS }, (_, n): [string, number[]] => [`r${n}`, []]),
    );
    const started = new Promise<void>((resolve) =>
      worker.on('job:start', (job) => {
        starts.get(job.key!)!.push(job.startedAt ?? store.clock.now());
        resolve();
      }),
    );
    await worker.start();
    await started;
    // Counted from the first start; the extra 50 ms leaves no start of the span unseen.
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 50));
    await worker.stop();
    const first = Math.min(...[...starts.values()].flat());
    const end = first + seconds * 1000;
    return [...starts.entries()].map(([key, times]) =>
      keyStarts(
        key,
        times.filter((at) => at < end),
        first,
        end,
      ),
    );
  } finally {
    await close();
  }
}

function keyStarts(key: string, times: number[], first: number, end: number): KeyStarts {
  const { limit, per } = KEY_RATE;
  const sorted = [...times].sort((a, b) => a - b);
  let maxInWindow = 0;
  for (let i = 0, from = 0; i < sorted.length; i++) {
    while (sorted[from]! <= sorted[i]! - per) from++;
    maxInWindow = Math.max(maxInWindow, i - from + 1);
  }
  const windows = Math.ceil((end - first) / per);
  const perWindow = Array.from({ length: windows }, () => 0);
  for (const at of sorted) perWindow[Math.min(windows - 1, Math.floor((at - first) / per))]!++;
  const lags = sorted.slice(limit).map((at, i) => at - (sorted[i]! + per));
  lags.sort((a, b) => a - b);
  return {
    key,
    starts: sorted.length,
    allowed: limit * windows,
    maxInWindow,
    perWindow,
    lagP50: quantile(lags, 0.5),
    lagMax: lags.at(-1) ?? Number.NaN,
  };
}

/** Jobs each probe of the claim-cost run claims (and then finishes). */
export const PROBE_JOBS = 10;
const FAKE_WORKER = 'bench:fake';
const PROBE_WORKER = 'bench:probe';
const HOUR = 3_600_000;

/**
 * `running` jobs of 100 keys claimed by a fake worker and never finished, in a queue limited to a
 * concurrency above them (or none: `limited` false); then `probes` claims of 10 more, each followed
 * by the success of those 10 so the count stays. The time of each claim, in ms, after 5 unmeasured.
 */
export async function claimCost(
  kind: StoreKind,
  running: number,
  probes: number,
  limited: boolean,
): Promise<number[]> {
  const { store, close, settle } = await kind.open();
  try {
    const warmUp = 5;
    await enqueueJobs(store, running + (probes + warmUp) * PROBE_JOBS + 1000, keyed);
    await settle();
    const limits: QueueLimits = { concurrency: running + 10_000 };
    if (limited) await store.limitsSet({ queue: noop.queue, layer: 'runtime', limits });
    for (let held = 0; held < running;) {
      const jobs = await claim(store, FAKE_WORKER, Math.min(1000, running - held), HOUR);
      if (jobs.length === 0) throw new Error(`claimed ${held} of ${running} jobs to hold`);
      held += jobs.length;
    }
    if (limited && (await store.limitsGet({ queue: noop.queue }))?.running !== running)
      throw new Error(`the limits do not count ${running} running jobs`);
    const times: number[] = [];
    for (let i = 0; i < probes + warmUp; i++) {
      const t = performance.now();
      const jobs = await claim(store, PROBE_WORKER, PROBE_JOBS, HOUR);
      if (i >= warmUp) times.push(performance.now() - t);
      if (jobs.length !== PROBE_JOBS) throw new Error(`a probe claimed ${jobs.length} jobs`);
      await store.jobRecordOutcomes(jobs.map((job) => succeeded(job)));
    }
    return times;
  } finally {
    await close();
  }
}

function claim(store: Store, workerId: string, limit: number, leaseMs: number) {
  return store.jobClaim({
    workerId,
    queues: [{ name: noop.queue, limit }],
    tasks: [noop.name],
    leaseMs,
  });
}

function succeeded(job: ClaimedJob): JobOutcome {
  return { kind: 'succeeded', lease: leaseOf(job, PROBE_WORKER), result: 'null' };
}
