import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Clock } from '../core/clock.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { ClaimedJob, Job } from '../core/job.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';
import { createQueue, type Queue } from '../queue/queue.ts';
import type { Store } from '../store/contract.ts';
import {
  isTask,
  type ExecutionMode,
  type Task,
  type TaskPayload,
  type TaskResult,
} from '../task/task.ts';
import { TaskRegistry } from '../task/task-registry.ts';
import { declaredLimits } from '../worker/declared-limits.ts';
import { OutcomeRecorder } from '../worker/outcome-recorder.ts';
import { WorkerPools } from '../worker/worker-pools.ts';
import { runOnce, type TaskRunResult } from './run-once.ts';

/** Options of {@link createTestQueue}; each states its default. */
export interface TestQueueOptions {
  /** The tasks the queue knows and runs. Required, at least one. */
  tasks: readonly Task[];
  /**
   * A store of your own (a PostgreSQL schema of the test's, say); the test queue neither migrates
   * nor closes it. Default: a fresh SQLite file in the system's temp folder, removed by `close()`.
   */
  store?: Store;
  /**
   * Where `drainOne()` runs each job: `inline` on the test's event loop, or `task` for each task's
   * own mode (`thread` and `process` tasks in pools, loading their module by path). Default `inline`.
   */
  mode?: 'inline' | 'task';
}

/** One job run by {@link TestQueue.drainOne}: its record afterwards and what the run did. */
export interface DrainStep<Result = unknown> {
  job: Job<unknown, Result>;
  run: TaskRunResult<Result>;
}

/** A real queue on a real store that a test drains by hand. See {@link createTestQueue}. */
export interface TestQueue {
  /** A queue over the store, knowing the tasks: give it to the code under test. */
  readonly queue: Queue;
  readonly store: Store;
  /**
   * Claims the next due job and runs it once, as a worker would, recording its outcome. Queues are
   * asked in name order; within one, jobs come in the store's order (priority, run-at, enqueue). Resolves with the step, or undefined when
   * nothing is due.
   */
  drainOne(): Promise<DrainStep | undefined>;
  /**
   * Runs due jobs one at a time until none is due (jobs the runs enqueue included), and resolves
   * with the steps. Throws ERR_INVALID_OPTION after `max` steps (default 1000): a task that keeps
   * enqueueing itself would never end.
   */
  drain(options?: { max?: number }): Promise<DrainStep[]>;
  /** Jobs of `task` (a handle or a name; default every task) in enqueue order, in any state. */
  enqueued<T extends Task>(task: T): Promise<Array<Job<TaskPayload<T>, TaskResult<T>>>>;
  enqueued(task?: string): Promise<Job[]>;
  /**
   * Moves the test queue's clock forward, so jobs with a delay or a retry's backoff become due.
   * Only with the queue's own store (a store of your own has its own clock).
   */
  advanceTime(ms: number): void;
  /** Closes the pools, and the store if the test queue made it (removing its file). Safe twice. */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  tasks: z.array(z.unknown()).min(1, 'must list at least one task'),
  store: z
    .custom<Store>((value) => typeof (value as Store)?.jobClaim === 'function', 'must be a store')
    .optional(),
  mode: z.enum(['inline', 'task']).default('inline'),
});

const drainSchema = z.object({ max: optionSchemas.positiveInt.default(1000) });

const WORKER_ID = 'offload-testing';
const LEASE_MS = 60_000;

/** A clock that starts at the system's time and moves forward by hand as well. */
class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

/**
 * A queue on a real store (a fresh SQLite file unless you pass one) that a test drains step by
 * step with `drainOne()` or `drain()`, with no worker running, and asserts on with `enqueued()`.
 * Each job runs through the worker's own run pipeline and its outcome is recorded in the store, so
 * retries, `ctx.fail`, snoozes and follow-up jobs behave as they do in production.
 *
 * @example
 * const kit = await createTestQueue({ tasks: [signup, sendEmail] });
 * await kit.queue.enqueue(signup, { email: 'ada@example.org' });
 * await kit.drain();
 * assert.equal((await kit.enqueued(sendEmail)).length, 1);
 * await kit.close();
 */
export async function createTestQueue(options: TestQueueOptions): Promise<TestQueue> {
  const parsed = parseOptions('createTestQueue', optionsSchema, options);
  const tasks = parsed.tasks.map((task, index) => {
    if (isTask(task)) return task;
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `createTestQueue: tasks[${index}] is not a task made with defineTask()`,
      { details: { option: 'tasks' } },
    );
  });
  const clock = new OffsetClock();
  const own = parsed.store === undefined;
  const dir = own ? fs.mkdtempSync(path.join(os.tmpdir(), 'offload-testing-')) : undefined;
  // Loaded only when needed: a test queue on a PostgreSQL store of your own loads no SQLite addon.
  const store =
    parsed.store ??
    (await import('../store/sqlite/sqlite-store.ts')).createSqliteStore({
      path: path.join(dir!, 'jobs.db'),
      clock,
    });
  try {
    await register(store, tasks);
  } catch (error) {
    if (own) await closeOwn(store, dir!);
    throw error;
  }
  return new TestQueueImpl(store, tasks, parsed.mode, own ? { clock, dir: dir! } : undefined);
}

/** What a worker's start writes: the tasks, and the flow control they declare. */
async function register(store: Store, tasks: readonly Task[]): Promise<void> {
  await store.taskRegister({
    tasks: tasks.map(({ name, queue, mode, attempts, priority, timeout }) => ({
      name,
      queue,
      mode,
      attempts,
      priority,
      timeout,
    })),
  });
  for (const [queue, limits] of declaredLimits(tasks))
    await store.limitsSet({ queue, layer: 'declared', limits });
}

async function closeOwn(store: Store, dir: string): Promise<void> {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

class TestQueueImpl implements TestQueue {
  readonly queue: Queue;
  readonly store: Store;
  readonly #tasks: TaskRegistry;
  readonly #mode: 'inline' | 'task';
  readonly #own: { clock: OffsetClock; dir: string } | undefined;
  readonly #recorder: OutcomeRecorder;
  #pools: WorkerPools | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    store: Store,
    tasks: readonly Task[],
    mode: 'inline' | 'task',
    own: { clock: OffsetClock; dir: string } | undefined,
  ) {
    this.store = store;
    this.queue = createQueue({ store, tasks });
    this.#tasks = new TaskRegistry(tasks);
    this.#mode = mode;
    this.#own = own;
    this.#recorder = new OutcomeRecorder(store);
  }

  async drainOne(): Promise<DrainStep | undefined> {
    this.#checkOpen();
    const job = await this.#claimNext();
    if (!job) return undefined;
    const task = this.#tasks.get(job.task);
    const mode: ExecutionMode =
      this.#mode === 'inline' || task.mode === 'auto' ? 'inline' : task.mode;
    if (mode !== 'inline')
      this.#pools ??= new WorkerPools({ taskModule: undefined, pools: undefined });
    const { outcome, report } = await runOnce(job, task, {
      clock: this.store.clock,
      mode,
      signal: undefined,
      workerId: WORKER_ID,
      pools: this.#pools,
    });
    if (outcome) await this.#recorder.record(outcome);
    const record = await this.store.jobGet({ id: job.id });
    return { job: record!, run: report };
  }

  async drain(options: { max?: number } = {}): Promise<DrainStep[]> {
    const { max } = parseOptions('drain', drainSchema, options);
    const steps: DrainStep[] = [];
    for (let step = await this.drainOne(); step; step = await this.drainOne()) {
      steps.push(step);
      if (steps.length >= max && (await this.#hasDue()))
        throw new OffloadError(
          ErrorCodes.INVALID_OPTION,
          `drain: still jobs due after ${max} steps (a task that enqueues itself?); pass a larger \`max\` if that is meant`,
          { details: { option: 'max', steps: steps.length } },
        );
    }
    return steps;
  }

  async enqueued(task?: Task | string): Promise<Job[]> {
    this.#checkOpen();
    const name = task === undefined ? undefined : typeof task === 'string' ? task : task.name;
    const jobs: Job[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.queue.listJobs({ task: name, limit: 1000, cursor });
      jobs.push(...page.jobs);
      cursor = page.nextCursor;
    } while (cursor);
    return jobs.sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id));
  }

  advanceTime(ms: number): void {
    if (!this.#own)
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        'advanceTime: this test queue was given a store of your own; move that store’s clock instead',
      );
    if (!Number.isSafeInteger(ms) || ms < 0)
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `advanceTime: expected whole milliseconds of 0 or more, got ${String(ms)}`,
        { details: { option: 'ms' } },
      );
    this.#own.clock.offset += ms;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#recorder.drain();
      await this.#pools?.close();
      if (this.#own) await closeOwn(this.store, this.#own.dir);
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing)
      throw new OffloadError(ErrorCodes.STORE_CLOSED, 'this test queue was closed');
  }

  /** One due job of a known task, from whichever queue holds one (each queue asked in turn). */
  async #claimNext(): Promise<ClaimedJob | undefined> {
    const tasks = this.#tasks.list().map((task) => task.name);
    for (const name of await this.#queueNames()) {
      const [job] = await this.store.jobClaim({
        workerId: WORKER_ID,
        queues: [{ name, limit: 1, start: 1 }],
        tasks,
        leaseMs: LEASE_MS,
      });
      if (job) return job;
    }
    return undefined;
  }

  async #queueNames(): Promise<string[]> {
    const names = new Set(this.#tasks.list().map((task) => task.queue));
    for (const info of await this.store.queueList()) names.add(info.name);
    return [...names].sort();
  }

  async #hasDue(): Promise<boolean> {
    const next = await this.store.jobNextRunAt({
      queues: await this.#queueNames(),
      tasks: this.#tasks.list().map((task) => task.name),
    });
    return next !== null && next <= this.store.clock.now();
  }
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
