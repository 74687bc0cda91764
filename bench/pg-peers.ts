/** The systems `bench/pg.bench.ts` compares, each behind one small interface. */
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq';
import {
  Logger as GraphileLogger,
  makeWorkerUtils,
  run as runGraphile,
  type Runner,
  type WorkerUtils,
} from 'graphile-worker';
import { Redis } from 'ioredis';
import pg from 'pg';
import PgBoss from 'pg-boss';
import pino from 'pino';
import { createQueue, type Queue } from '../src/queue/queue.ts';
import { createPostgresStore, type PostgresStore } from '../src/store/postgres/postgres-store.ts';
import { defineTask } from '../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../src/worker/worker.ts';

export interface Peer {
  name: string;
  settings: string;
  sizes: { single: number; bulk: number; processing: number; latency: number };
  setup(): Promise<void>;
  /** Empties the queue between phases. */
  reset(): Promise<void>;
  enqueue(i: number): Promise<unknown>;
  enqueueBulk(n: number): Promise<unknown>;
  startWorker(): Promise<void>;
  /** Resolves once `n` jobs ran and every completion is committed. */
  waitProcessed(n: number): Promise<void>;
  /** Enqueues one job with the worker idle; resolves with enqueue-to-start milliseconds. */
  latencyOnce(): Promise<number>;
  teardown(): Promise<void>;
}

const SIZES = { single: 2_000, bulk: 50_000, processing: 30_000, latency: 300 };

/** Counts runs and reports the start of the next one. */
class RunProbe {
  runs = 0;
  #waiter: ((at: number) => void) | undefined;
  ran(): void {
    this.runs++;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(performance.now());
  }
  async timeOne(enqueue: () => Promise<unknown>): Promise<number> {
    const started = new Promise<number>((resolve) => (this.#waiter = resolve));
    const t0 = performance.now();
    await enqueue();
    return (await started) - t0;
  }
}

/** Resolves once `check` holds, looking every 5 ms. */
export async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Runs one statement on a connection of its own (schemas made and dropped around a run). */
export async function admin(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** The server's version and commit setting, for a results header. */
export async function serverVersions(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string; s: string }>(
      `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS s`,
    );
    return `PostgreSQL ${rows[0]!.v} (synchronous_commit=${rows[0]!.s})`;
  } finally {
    await client.end();
  }
}

function offload(url: string, concurrency?: number): Peer {
  const schema = concurrency ? `bench_offload_c${concurrency}` : 'bench_offload';
  const probe = new RunProbe();
  const noop = defineTask({ name: 'noop', run: async () => probe.ran() });
  let producer: PostgresStore;
  let consumer: PostgresStore;
  let queue: Queue;
  let worker: Worker | undefined;
  let ended = 0;
  return {
    name: concurrency ? `offload (concurrency ${concurrency})` : 'offload',
    settings: concurrency
      ? `as offload, with createWorker({ concurrency: ${concurrency} }) (the default before this release)`
      : 'createPostgresStore defaults (pool 10, LISTEN/NOTIFY, async claim commits, durable completions); createWorker defaults (concurrency 100, claim-ahead up to 8× by measured rate, lease 15 s); producer and worker on separate store instances',
    sizes: SIZES,
    async setup() {
      probe.runs = 0;
      ended = 0;
      await admin(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      producer = await createPostgresStore({ connectionString: url, schema });
      consumer = await createPostgresStore({ connectionString: url, schema });
      queue = createQueue({ store: producer, tasks: [noop] });
    },
    reset: () => admin(url, `TRUNCATE ${schema}.jobs`),
    enqueue: (i) => queue.enqueue(noop, { i }),
    enqueueBulk: (n) =>
      queue.enqueueMany(Array.from({ length: n }, (_, i) => ({ task: noop, payload: { i } }))),
    async startWorker() {
      worker = createWorker({
        store: consumer,
        tasks: [noop],
        logger: pino({ level: 'silent' }),
        ...(concurrency ? { concurrency } : {}),
      });
      worker.on('job:end', () => ended++);
      await worker.start();
    },
    waitProcessed: (n) => until(() => ended >= n),
    latencyOnce: () => probe.timeOne(() => queue.enqueue(noop, { i: 0 })),
    async teardown() {
      await worker?.stop();
      await producer.close();
      await consumer.close();
      await admin(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

function graphile(url: string, fastest: boolean): Peer {
  const schema = fastest ? 'bench_graphile_fast' : 'bench_graphile';
  const probe = new RunProbe();
  let utils: WorkerUtils;
  let runner: Runner | undefined;
  const logger = new GraphileLogger(() => () => undefined);
  const worker = fastest
    ? { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
    : {};
  const pending = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${schema}._private_jobs`,
    );
    await client.end();
    return rows[0]!.n;
  };
  return {
    name: `graphile-worker (${fastest ? 'fastest' : 'defaults'})`,
    settings: fastest
      ? 'concurrency 24, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0 (its documented batching settings)'
      : 'run() defaults (concurrency 1, pollInterval 2 s, LISTEN/NOTIFY)',
    sizes: fastest ? SIZES : { ...SIZES, bulk: 20_000, processing: 10_000 },
    async setup() {
      probe.runs = 0;
      await admin(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      utils = await makeWorkerUtils({ connectionString: url, schema, logger });
      await utils.migrate();
    },
    reset: () => admin(url, `DELETE FROM ${schema}._private_jobs`),
    enqueue: (i) => utils.addJob('noop', { i }),
    enqueueBulk: (n) =>
      utils.addJobs(Array.from({ length: n }, (_, i) => ({ identifier: 'noop', payload: { i } }))),
    async startWorker() {
      runner = await runGraphile({
        connectionString: url,
        schema,
        logger,
        noHandleSignals: true,
        ...(fastest ? { concurrency: 24 } : {}),
        taskList: { noop: async () => probe.ran() },
        preset: { worker },
      });
    },
    async waitProcessed(n) {
      await until(() => probe.runs >= n);
      await until(async () => (await pending()) === 0);
    },
    latencyOnce: () => probe.timeOne(() => utils.addJob('noop', { i: 0 })),
    async teardown() {
      await runner?.stop();
      await utils.release();
      await admin(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

function pgBoss(url: string): Peer {
  const schema = 'bench_pgboss';
  const probe = new RunProbe();
  let boss: PgBoss;
  return {
    name: 'pg-boss',
    settings:
      'work() with batchSize 100 and pollingIntervalSeconds 0.5 (its minimum); send() and insert()',
    sizes: { single: 1_000, bulk: 20_000, processing: 2_000, latency: 30 },
    async setup() {
      probe.runs = 0;
      await admin(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      boss = new PgBoss({ connectionString: url, schema });
      boss.on('error', () => undefined);
      await boss.start();
      await boss.createQueue('noop');
    },
    reset: () => admin(url, `DELETE FROM ${schema}.job`),
    enqueue: (i) => boss.send('noop', { i }),
    enqueueBulk: (n) =>
      boss.insert(Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i } }))),
    async startWorker() {
      await boss.work('noop', { batchSize: 100, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (let i = 0; i < jobs.length; i++) probe.ran();
      });
    },
    async waitProcessed(n) {
      await until(() => probe.runs >= n);
      await until(async () => (await boss.getQueueSize('noop', { before: 'completed' })) === 0);
    },
    latencyOnce: () => probe.timeOne(() => boss.send('noop', { i: 0 })),
    async teardown() {
      await boss.stop({ graceful: false, wait: true });
      await admin(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

function bullmq(redisUrl: string): Peer {
  const probe = new RunProbe();
  const prefix = 'offload-bench';
  const connection = () => new Redis(redisUrl, { maxRetriesPerRequest: null });
  let queue: BullQueue;
  let worker: BullWorker | undefined;
  const options = { removeOnComplete: true, removeOnFail: true };
  return {
    name: 'bullmq',
    settings: 'Worker concurrency 50, removeOnComplete; add() and addBulk()',
    sizes: SIZES,
    async setup() {
      probe.runs = 0;
      queue = new BullQueue('noop', { connection: connection(), prefix });
      await queue.obliterate({ force: true });
    },
    reset: () => queue.obliterate({ force: true }),
    enqueue: (i) => queue.add('noop', { i }, options),
    enqueueBulk: (n) =>
      queue.addBulk(
        Array.from({ length: n }, (_, i) => ({ name: 'noop', data: { i }, opts: options })),
      ),
    async startWorker() {
      worker = new BullWorker('noop', async () => probe.ran(), {
        connection: connection(),
        prefix,
        concurrency: 50,
      });
      await worker.waitUntilReady();
    },
    async waitProcessed(n) {
      await until(() => probe.runs >= n);
      await until(async () => {
        const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
        return Object.values(counts).every((count) => count === 0);
      });
    },
    latencyOnce: () => probe.timeOne(() => queue.add('noop', { i: 0 }, options)),
    async teardown() {
      await worker?.close();
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

/** Every system, offload first. */
export function peers(pgUrl: string, redisUrl: string): Peer[] {
  return [
    offload(pgUrl),
    offload(pgUrl, 10),
    graphile(pgUrl, false),
    graphile(pgUrl, true),
    pgBoss(pgUrl),
    bullmq(redisUrl),
  ];
}
