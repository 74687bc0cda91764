/**
 * What the flow control proofs share: a fresh store and runs log per test, worker processes that
 * serve test/fixtures/flow-log-tasks.ts, jobs for the store's own enqueue, and the runs rebuilt from
 * the log.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Job } from '../../src/core/job.ts';
import type { EnqueueParams, JobFilter, Store } from '../../src/store/contract.ts';
import { createFlowLog, type FlowLogRow, type FlowPayload } from '../fixtures/flow-log-tasks.ts';
import { exited, startWorkerProcess } from '../helpers/processes.ts';
import type { TestStoreFactory } from '../helpers/stores.ts';
import { makeTempDir } from '../helpers/temp.ts';

export const QUEUE = 'flow';

export interface FlowSetup {
  store: Store;
  log: ReturnType<typeof createFlowLog>;
  /** Starts a worker process on the store, serving the flow queue. */
  startWorker(settings: { concurrency: number; leaseMs?: number }): Promise<ChildProcess>;
  /** SIGTERMs the workers still alive and waits for them to exit. */
  stopWorkers(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function flowSetup(factory: TestStoreFactory, label: string): Promise<FlowSetup> {
  const temp = makeTempDir(label);
  const logFile = path.join(temp.dir, 'runs.db');
  const log = createFlowLog(logFile);
  const store = await factory.open();
  const children: ChildProcess[] = [];
  const alive = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
  const stopWorkers = async () => {
    const running = alive();
    for (const child of running) child.kill('SIGTERM');
    await Promise.all(running.map(exited));
  };
  return {
    store,
    log,
    async startWorker({ concurrency, leaseMs = 15_000 }) {
      const child = await startWorkerProcess({
        ...factory.env,
        OFFLOAD_TEST_TASKS: 'flow',
        OFFLOAD_TEST_FLOW_LOG: logFile,
        OFFLOAD_TEST_CONCURRENCY: String(concurrency),
        OFFLOAD_TEST_LEASE_MS: String(leaseMs),
        OFFLOAD_TEST_GRACE_MS: '5000',
      });
      children.push(child);
      return child;
    },
    stopWorkers,
    async cleanup() {
      for (const child of alive()) child.kill('SIGKILL');
      await Promise.all(children.map(exited));
      await store.close();
      log.close();
      await factory.destroy();
      temp.cleanup();
    },
  };
}

/** A job of the flow task for `store.jobEnqueueMany`, its flow key in the payload too (the task logs it). */
export function flowJob(
  payload: FlowPayload,
  overrides: Partial<EnqueueParams> = {},
): EnqueueParams {
  return {
    task: 'flow-work',
    queue: QUEUE,
    payload: JSON.stringify(payload),
    priority: 0,
    runAt: Date.now(),
    maxAttempts: 5,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
    key: payload.key,
    ...overrides,
  };
}

/** Enqueues in batches of 1000. */
export async function enqueueAll(store: Store, jobs: readonly EnqueueParams[]): Promise<Job[]> {
  const made: Job[] = [];
  for (let i = 0; i < jobs.length; i += 1000)
    made.push(...(await store.jobEnqueueMany(jobs.slice(i, i + 1000))).map((r) => r.job));
  return made;
}

/** Every job that matches, read page by page. */
export async function allJobs(store: Store, filter: JobFilter = {}): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.jobList({ ...filter, limit: 1000, cursor });
    jobs.push(...page.jobs);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return jobs;
}

/** One run of a job as the log tells it; `end` null when the run logged no end (its worker died). */
export interface Run {
  job: number;
  key: string;
  attempt: number;
  pid: number;
  start: number;
  end: number | null;
}

/** The runs of the log, in the order they started. */
export function runsOf(rows: readonly FlowLogRow[]): Run[] {
  const runs = new Map<string, Run>();
  for (const row of rows) {
    const id = `${row.job}:${row.attempt}`;
    if (row.event === 'start') {
      if (runs.has(id)) throw new Error(`job ${row.job} attempt ${row.attempt} started twice`);
      runs.set(id, { ...row, start: row.at, end: null });
    } else {
      const run = runs.get(id);
      if (!run) throw new Error(`job ${row.job} attempt ${row.attempt} ended without a start`);
      run.end = row.at;
    }
  }
  return [...runs.values()].sort((a, b) => a.start - b.start || a.job - b.job);
}

/** Groups by a key function, keeping order. */
export function groupBy<T, K>(items: Iterable<T>, keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
