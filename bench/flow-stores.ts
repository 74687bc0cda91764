/**
 * The stores `bench/flow.bench.ts` measures flow control on, each opened fresh for one measurement
 * (a new SQLite file, a new PostgreSQL schema), and what it does to them: enqueue keyed no-op jobs,
 * and time the claims and outcomes a worker sends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineTask } from '../src/index.ts';
import type { EnqueueParams, Store } from '../src/store/contract.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { admin } from './pg-peers.ts';

export const PG_URL =
  process.env['OFFLOAD_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['OFFLOAD_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** The no-op task of every measurement, in a queue of its own. */
/** Runs of each payload key executing at once, counted by the task itself (it runs inline). */
export const executing = { byKey: new Map<string, number>(), most: 0 };

/**
 * The no-op task of every measurement, in a queue of its own. It counts its runs per key (by `n % 100`, the
 * key `bench/flow-measures.ts` gives job `n`) from the start of its code to its return.
 */
export const noop = defineTask({
  name: 'noop',
  queue: 'flow',
  run: async (payload: { n: number }) => {
    const key = String(payload.n % 100);
    const now = (executing.byKey.get(key) ?? 0) + 1;
    executing.byKey.set(key, now);
    executing.most = Math.max(executing.most, now);
    await undefined;
    executing.byKey.set(key, executing.byKey.get(key)! - 1);
    return null;
  },
});

export interface OpenStore {
  store: Store;
  /**
   * After a bulk enqueue: PostgreSQL gathers the table's statistics, as autovacuum does within a
   * minute of such an insert in any real deployment, so plans are those a running system gets.
   */
  settle(): Promise<void>;
  /** Closes the store and deletes its file or schema. */
  close(): Promise<void>;
}

export interface StoreKind {
  name: 'SQLite' | 'PostgreSQL';
  open(): Promise<OpenStore>;
}

let opened = 0;

const sqlite: StoreKind = {
  name: 'SQLite',
  async open() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-flow-'));
    const store = createSqliteStore({ path: path.join(dir, 'flow.db') });
    return {
      store,
      settle: async () => {},
      async close() {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const postgres: StoreKind = {
  name: 'PostgreSQL',
  async open() {
    const schema = `bench_flow_${process.pid}_${opened++}`;
    await admin(PG_URL, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    const store = await createPostgresStore({ connectionString: PG_URL, schema });
    return {
      store,
      settle: () => admin(PG_URL, `ANALYZE ${schema}.jobs`),
      async close() {
        await store.close();
        await admin(PG_URL, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
};

/** SQLite (a file, WAL, synchronous=NORMAL) and PostgreSQL, both with their defaults. */
export const STORE_KINDS: readonly StoreKind[] = [sqlite, postgres];

/**
 * Enqueues `count` no-op jobs, due now, in batches of 1 000 through `jobEnqueueMany` with the
 * params `queue.enqueueMany` builds; the n-th job gets the flow key `keyOf(n)`.
 */
export async function enqueueJobs(
  store: Store,
  count: number,
  keyOf: (n: number) => string | null,
): Promise<void> {
  const now = store.clock.now();
  for (let from = 0; from < count; from += 1000) {
    const batch: EnqueueParams[] = [];
    for (let n = from; n < Math.min(count, from + 1000); n++)
      batch.push({
        task: noop.name,
        queue: noop.queue,
        payload: `{"n":${n}}`,
        priority: noop.priority,
        runAt: now,
        maxAttempts: noop.attempts,
        timeoutMs: noop.timeout,
        uniqueKey: null,
        idempotencyKey: null,
        callbackUrl: null,
        key: keyOf(n),
      });
    await store.jobEnqueueMany(batch);
  }
}

/** Calls of one store method: how many, how long in all (wall ms), and (claims) jobs returned. */
export interface CallStats {
  calls: number;
  ms: number;
  jobs: number;
  /** Calls that returned no job. */
  empty: number;
}

/**
 * Times every `jobClaim` and `jobRecordOutcomes` of this store instance from now on, by wrapping
 * the two methods on the instance; the store itself is untouched.
 */
export function timeCalls(store: Store): { claims: CallStats; outcomes: CallStats } {
  const stats = {
    claims: { calls: 0, ms: 0, jobs: 0, empty: 0 },
    outcomes: { calls: 0, ms: 0, jobs: 0, empty: 0 },
  };
  const claim = store.jobClaim.bind(store);
  const record = store.jobRecordOutcomes.bind(store);
  store.jobClaim = async (params) => {
    const t = performance.now();
    const jobs = await claim(params);
    count(stats.claims, performance.now() - t, jobs.length);
    return jobs;
  };
  store.jobRecordOutcomes = async (outcomes) => {
    const t = performance.now();
    const accepted = await record(outcomes);
    count(stats.outcomes, performance.now() - t, outcomes.length);
    return accepted;
  };
  return stats;
}

function count(stats: CallStats, ms: number, jobs: number): void {
  stats.calls++;
  stats.ms += ms;
  stats.jobs += jobs;
  if (jobs === 0) stats.empty++;
}
