/**
 * Tasks as plain data: the types and the brand, with no Node.js built-ins and no dependencies, so
 * task modules and the browser pool can use them. `define-task.ts` validates definitions;
 * `define-task-node.ts` adds what needs Node (the defining file). Files that need Node end in `-node`.
 */
import type { Backoff } from '../core/backoff.ts';
import type { StandardSchemaV1 } from '../core/schema.ts';
import type { QueueLimits } from '../store/contract.ts';

/**
 * Where a task runs. `inline`: a coroutine on the worker's event loop (must yield).
 * `thread`: a worker_threads pool. `process`: a child-process pool (full isolation).
 */
export type ExecutionMode = 'inline' | 'thread' | 'process';

/**
 * What a task asks for: an {@link ExecutionMode}, or `auto` to let the worker move it between
 * `inline` and `thread` by the measured costs (see docs/modes.md, "mode: 'auto'").
 */
export type TaskMode = ExecutionMode | 'auto';

/** One level method of {@link TaskLogger}: pino's call shapes. */
export interface TaskLogFn {
  (message: string, ...args: unknown[]): void;
  (fields: object, message?: string, ...args: unknown[]): void;
}

/**
 * `ctx.logger`: the level methods of a pino logger, and `child` to add fields. A pino logger is
 * one; in `thread` and `process` mode the calls are sent to the worker's logger.
 */
export interface TaskLogger {
  trace: TaskLogFn;
  debug: TaskLogFn;
  info: TaskLogFn;
  warn: TaskLogFn;
  error: TaskLogFn;
  fatal: TaskLogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): TaskLogger;
}

/** What a running task can see and do. */
export interface TaskContext {
  /** The job being run. `attempt` counts from 1. */
  readonly job: {
    readonly id: string;
    readonly task: string;
    readonly queue: string;
    readonly attempt: number;
    readonly maxAttempts: number;
  };
  /** Aborts when the job is cancelled, times out, loses its lease, or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Records progress (any JSON value, a number from 0 to 100 by convention) on the job. */
  progress(value: unknown): void;
  /**
   * A child of the worker's logger (its `logger` option) whose lines carry the job's `job` (id),
   * `task`, `queue` and `attempt`, in every mode: in `thread` and `process` mode each call is sent
   * to the worker, which writes it (the worker's level applies there). Run by a bare pool, the
   * calls go to its `onLog` run option, or nowhere.
   */
  readonly logger: TaskLogger;
  /**
   * Gives the event loop a turn if this task has held it longer than the worker's slice
   * (default 10 ms); otherwise resolves at once. Inline tasks that loop over work call it often.
   */
  yield(): Promise<void>;
  /** Fails the job for good: no further attempts. */
  fail(message: string): never;
  /** Puts the job back to run again after `delayMs`, without counting a failed attempt. */
  snooze(delayMs: number): never;
  /**
   * A remote service said "too many requests": ends this run, puts the job back without counting
   * an attempt, and starts nothing more of its flow key (its whole queue when it has none) until
   * then. `retryAfter`: milliseconds, a duration such as `'30s'`, or a Date (a Retry-After), more
   * than 0 and at most 7 days away. Anything else throws ERR_INVALID_OPTION, which fails the run.
   */
  rateLimited(retryAfter: number | string | Date): never;
}

/**
 * Jobs of a task running at once, across every worker on the store. `limit` is per flow key and
 * needs `key`; `global` is for the whole queue. See docs/flow-control.md.
 */
export interface ConcurrencyOption<Payload> {
  /** Jobs of one key running at once, 1 to 1 000 000. Needs `key`. */
  limit?: number;
  /**
   * The flow key of a payload (a tenant, an account): 1-500 characters. Called at enqueue, after
   * the schema; a job enqueued with `key` uses that instead.
   */
  key?: (payload: Payload) => string;
  /** Jobs of the whole queue running at once, 1 to 1 000 000. */
  global?: number;
  /** Per-key replacements of `limit`, for tiers: `{ acme: 10 }`. Needs `key`. */
  overrides?: Record<string, number>;
}

/**
 * At most `limit` starts in any `per` (milliseconds or `'1s'`, `'5m'`…): a sliding window. With
 * `key`, a window per flow key; without, one for the whole queue.
 */
export interface RateLimitOption<Payload> {
  limit: number;
  per: number | string;
  /** The flow key of a payload; when `concurrency.key` is given too, it must be the same function. */
  key?: (payload: Payload) => string;
}

/** What `defineTask` takes. Each option's default is stated on it. */
export interface TaskDefinition<Payload, Result> {
  /** Unique name; jobs refer to the task by it. Letters, digits, `_ . : -`. */
  name: string;
  /**
   * Where it runs. `auto`: the worker measures each run and moves the task between `inline` and
   * `thread` (docs/modes.md). Default `inline`, or `process` with `isolate: true`.
   */
  mode?: TaskMode;
  /** Always run in a child process (crash, leak and `process.exit` containment). Default false. */
  isolate?: boolean;
  /** The work. Its resolved value is stored as the job's result (must be JSON-serialisable). */
  run: (payload: Payload, ctx: TaskContext) => Result | Promise<Result>;
  /**
   * Milliseconds one run may take before its signal aborts and it fails, at most 2^31-1 (about
   * 24.8 days: the longest a Node.js timer waits). Default 0: no limit.
   */
  timeout?: number;
  /** Runs before the job fails for good (the first run counts), 1 to 1000. Default 3. */
  attempts?: number;
  /**
   * Delay before a retry: whole milliseconds, `{ delay, factor, maxDelay, jitter }`, or a function
   * of the failed attempt's number that returns milliseconds at once. Default: 1 s doubling each
   * attempt, capped at 1 h, with jitter. Any delay is capped at 100 years (static ones above that are refused). A function that throws or
   * returns no delay (a Promise, NaN, a negative or infinite number) does not lose the retry: that
   * retry waits the default backoff, and the worker logs ERR_INVALID_BACKOFF naming the task and
   * the attempt and emits it as its `error` event.
   */
  backoff?: Backoff;
  /** Queue its jobs go to unless `enqueue` says otherwise. Default `default`. */
  queue?: string;
  /** Default priority of its jobs: higher runs first, from -1 000 000 to 1 000 000. Default 0. */
  priority?: number;
  /** Validates payloads at enqueue (any Standard Schema: zod, valibot, arktype…). */
  schema?: StandardSchemaV1;
  /** A sample payload, for docs, forms and `offload start --demo`. */
  example?: Payload;
  /**
   * Jobs running at once, across every worker: per flow key (`limit`, with `key`) and for the
   * whole queue (`global`). Default: no limit beyond each worker's concurrency.
   */
  concurrency?: ConcurrencyOption<Payload>;
  /** Starts per sliding window, per flow key (with `key`) or for the whole queue. Default none. */
  rateLimit?: RateLimitOption<Payload>;
  /**
   * How a key's jobs take turns; needs a key function (`concurrency.key` or `rateLimit.key`).
   * `fair` (the default with a key function): claims rotate over keys, and `ctx.rateLimited` holds
   * the key. `strict`: besides, a key's jobs run one at a time in enqueue order, retries included.
   */
  order?: 'fair' | 'strict';
}

export const TASK_BRAND = Symbol.for('offload.task');

/** A defined task: the handle `enqueue` takes, carrying its payload and result types. */
export interface Task<Payload = unknown, Result = unknown> {
  readonly [TASK_BRAND]: true;
  readonly name: string;
  /** `process` whenever `isolate` is true. */
  readonly mode: TaskMode;
  readonly isolate: boolean;
  /** Declared as a method so a typed Task<P, R> is usable wherever a plain Task is. */
  run(payload: Payload, ctx: TaskContext): Result | Promise<Result>;
  readonly timeout: number;
  readonly attempts: number;
  readonly backoff: Backoff | undefined;
  readonly queue: string;
  readonly priority: number;
  readonly schema: StandardSchemaV1 | undefined;
  readonly example: Payload | undefined;
  /**
   * The flow key function (`concurrency.key` or `rateLimit.key`), or undefined. Declared as a
   * method, like `run`, so a typed Task<P, R> is usable wherever a plain Task is.
   */
  key?(payload: Payload): string;
  /**
   * The flow control its queue gets from this task (`concurrency`, `rateLimit`, `order` as
   * {@link QueueLimits}); a worker serving the task declares them. Undefined when it sets none.
   */
  readonly limits: QueueLimits | undefined;
  /**
   * The file that called `defineTask` (non-enumerable), so thread and process workers can load the
   * task's module by path. Undefined when it cannot be told; then pass `taskModule` to createWorker.
   */
  readonly file?: string;
  /** Type-only: never set at run time. */
  readonly __types?: { payload: Payload; result: Result };
}

export type TaskPayload<T> = T extends Task<infer P, unknown> ? P : never;
export type TaskResult<T> = T extends { readonly __types?: { result: infer R } }
  ? Awaited<R>
  : never;

export function isTask(value: unknown): value is Task {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[TASK_BRAND] === true
  );
}
