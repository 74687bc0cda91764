import type { EventEmitter } from 'node:events';
import type { TransferListItem } from 'node:worker_threads';
import type { ExecutionMode, Task, TaskPayload, TaskResult } from '../task/task.ts';
import type { PoolStats } from './shared/pool-stats.ts';
import type { LogEntry } from './shared/log-relay.ts';
import type { JobInfo } from './shared/protocol.ts';

/** Per-run choices of {@link Pool.run}. */
export interface RunOptions {
  /** Aborting it cancels the task: a waiting task is dropped, a running one sees `ctx.signal` abort (and its thread or process is ended if it has not stopped after `cancelGrace`). */
  signal?: AbortSignal;
  /** Milliseconds the task may run, counted from its start. Default: the pool's `taskTimeout`, else the task's own. 0: none. */
  timeout?: number;
  /** ArrayBuffers, MessagePorts… in the payload to move rather than copy (`thread` mode only; ignored otherwise). */
  transfer?: readonly TransferListItem[];
  /**
   * Called with the task's `ctx.progress(value)` reports while it runs, the last before the result.
   * `inline`: every report, inside `ctx.progress`. `thread` and `process`: a report not yet sent is
   * replaced by the next; a task that holds its loop sends at most one every 50 ms.
   */
  onProgress?: (value: unknown) => void;
  /** `thread` and `process`: called once the task ends (either way) with what its worker wrote to stdout and stderr while the task was in flight (the tail kept, best effort). */
  onOutput?: (text: string) => void;
  /**
   * Called with each `ctx.logger` call of the task while it runs, as plain data (errors among the
   * fields made plain); a worker writes them to its logger. Default: the calls go nowhere.
   */
  onLog?: (entry: LogEntry) => void;
  /** What the task sees as `ctx.job`. Default: `{ id: 'pool-task-N', task, queue: '', attempt: 1, maxAttempts: 1 }`. */
  job?: JobInfo;
}

/** Why a worker ended. */
export type WorkerExitReason =
  'crashed' | 'start-failed' | 'recycled' | 'idle' | 'closed' | 'terminated';

/** Events of a pool. */
export interface PoolEvents {
  'worker:start': [{ worker: string }];
  'worker:ready': [{ worker: string }];
  'worker:exit': [
    {
      worker: string;
      reason: WorkerExitReason;
      code: number | null;
      signal: string | null;
      error: Error | undefined;
    },
  ];
}

/**
 * Runs tasks of one task module in one execution mode: `inline` on this event loop, `thread` in a
 * pool of worker_threads, `process` in a pool of child processes. The same interface for all three.
 */
export interface Pool extends EventEmitter<PoolEvents> {
  readonly mode: ExecutionMode;
  /**
   * Runs a task by name (or handle) with a payload and resolves with its result. Rejects with the
   * task's own error (stack and `code` kept), or an OffloadError: ERR_TASK_TIMEOUT,
   * ERR_TASK_CANCELLED, ERR_WORKER_CRASHED, ERR_QUEUE_FULL, ERR_POOL_CLOSED, ERR_TASK_NOT_FOUND,
   * ERR_TASK_MODULE, ERR_INVALID_PAYLOAD.
   */
  run<T extends Task>(
    task: T,
    payload: TaskPayload<T>,
    options?: RunOptions,
  ): Promise<TaskResult<T>>;
  run<Result = unknown>(task: string, payload?: unknown, options?: RunOptions): Promise<Result>;
  /** Resolves once a worker has loaded the module; rejects with the start-up error if none can. */
  ready(): Promise<void>;
  /** Counts, utilisation and recent run and wait time percentiles. */
  stats(): PoolStats;
  /** Takes no new tasks, lets queued and running ones finish, then ends the workers. Safe to call twice. */
  close(): Promise<void>;
  /** Ends everything now: unfinished tasks reject with ERR_POOL_CLOSED. Safe to call twice. */
  destroy(): Promise<void>;
}
