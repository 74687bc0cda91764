import type { PoolStats } from '../pool/shared/pool-stats.ts';
import type { Task, TaskPayload, TaskResult } from '../task/task.ts';

/** Per-run choices of {@link BrowserPool.run}. */
export interface BrowserRunOptions {
  /** Aborting it cancels the task: a waiting task is dropped, a running one's worker is terminated and replaced. */
  signal?: AbortSignal;
  /** Milliseconds the task may run, counted from its start; past it the worker is terminated and replaced. Default: the pool's `taskTimeout`, else the task's own. 0: none. */
  timeout?: number;
  /** ArrayBuffers, MessagePorts, ImageBitmaps… in the payload to move to the worker rather than copy. */
  transfer?: Transferable[];
  /** Called with the task's `ctx.progress(value)` reports while it runs, the last before the result; a report not yet sent is replaced by the next, and a task that holds its worker sends at most one every 50 ms. */
  onProgress?: (value: unknown) => void;
}

/**
 * A pool of module Web Workers with the Node pool's interface: `run`, `ready`, `stats`, `close`,
 * `destroy`. Each worker runs one task at a time, so a task that must be stopped is stopped for
 * good: its worker is terminated and a fresh one takes its place.
 */
export interface BrowserPool {
  /** Web Workers are threads: stats and errors say `thread`, as the Node thread pool does. */
  readonly mode: 'thread';
  /**
   * Runs a task by name (or handle) with a payload and resolves with its result. Rejects with the
   * task's own error (name, message, stack and `code` kept), or an OffloadError: ERR_TASK_TIMEOUT,
   * ERR_TASK_CANCELLED, ERR_WORKER_CRASHED, ERR_QUEUE_FULL, ERR_POOL_CLOSED, ERR_TASK_NOT_FOUND,
   * ERR_TASK_MODULE, ERR_INVALID_PAYLOAD.
   */
  run<T extends Task>(
    task: T,
    payload: TaskPayload<T>,
    options?: BrowserRunOptions,
  ): Promise<TaskResult<T>>;
  run<Result = unknown>(
    task: string,
    payload?: unknown,
    options?: BrowserRunOptions,
  ): Promise<Result>;
  /** Resolves once a worker has loaded the module; rejects with the start-up error if none can. */
  ready(): Promise<void>;
  /** Counts, utilisation and recent run and wait time percentiles. */
  stats(): PoolStats;
  /** Takes no new tasks, lets queued and running ones finish, then terminates the workers. Safe to call twice. */
  close(): Promise<void>;
  /** Terminates everything now: unfinished tasks reject with ERR_POOL_CLOSED. Safe to call twice. */
  destroy(): Promise<void>;
}
