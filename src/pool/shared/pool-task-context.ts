import { ErrorCodes, OffloadError, PermanentFailure, Snooze } from '../../core/errors.ts';
import { RateLimited } from '../../core/rate-limited.ts';
import type { TaskContext, TaskLogger } from '../../task/task.ts';
import { relayLogger, type LogEntry } from './log-relay.ts';
import type { JobInfo } from './protocol.ts';

/** Where a pool's task context sends what its task reports, with the request's id. */
export interface TaskReports {
  progress(id: number, value: unknown): void;
  log(id: number, entry: LogEntry): void;
}

/** The `ctx` of a task run by a pool (inline, or inside a thread or process). */
export class PoolTaskContext implements TaskContext {
  readonly #request: { id: number; task: string; job: JobInfo | undefined };
  readonly #reports: TaskReports;
  readonly #sliceMs: number;
  readonly #nextTurn: () => Promise<void>;
  #controller: AbortController | undefined;
  #sliceStart: number;
  #progress: ((value: unknown) => void) | undefined;
  #yield: (() => Promise<void>) | undefined;
  #logger: TaskLogger | undefined;

  /**
   * `reports` get the request's id, so one object serves every task of a runtime;
   * `nextTurn` resolves after the event loop has had a turn (`setImmediate` in Node); `startedAt`
   * is when the task starts (`performance.now()`).
   */
  constructor(
    request: { id: number; task: string; job: JobInfo | undefined },
    reports: TaskReports,
    sliceMs: number,
    nextTurn: () => Promise<void>,
    startedAt = performance.now(),
  ) {
    this.#request = request;
    this.#reports = reports;
    this.#sliceMs = sliceMs;
    this.#nextTurn = nextTurn;
    this.#sliceStart = startedAt;
  }

  get job(): JobInfo {
    const request = this.#request;
    return (
      request.job ?? {
        id: `pool-task-${request.id}`,
        task: request.task,
        queue: '',
        attempt: 1,
        maxAttempts: 1,
      }
    );
  }

  /** Created on first use: most tasks never look at their signal. */
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  /** Aborts the signal with ERR_TASK_TIMEOUT or ERR_TASK_CANCELLED. */
  abort(reason: 'cancelled' | 'timeout'): void {
    this.#controller ??= new AbortController();
    if (this.#controller.signal.aborted) return;
    const error =
      reason === 'timeout'
        ? new OffloadError(
            ErrorCodes.TASK_TIMEOUT,
            `task "${this.#request.task}" ran longer than its timeout`,
          )
        : new OffloadError(ErrorCodes.TASK_CANCELLED, `task "${this.#request.task}" was cancelled`);
    this.#controller.abort(error);
  }

  /**
   * `progress` and `yield` are made on first use and kept, so a task may destructure them
   * (`const { progress } = ctx`) and a task that never calls them costs no closure.
   */
  get progress(): (value: unknown) => void {
    return (this.#progress ??= (value) => this.#reports.progress(this.#request.id, value));
  }

  /** Made on first use: each call goes to `reports.log` as plain data. */
  get logger(): TaskLogger {
    return (this.#logger ??= relayLogger((entry) => this.#reports.log(this.#request.id, entry)));
  }

  get yield(): () => Promise<void> {
    return (this.#yield ??= async () => {
      if (performance.now() - this.#sliceStart < this.#sliceMs) return;
      await this.#nextTurn();
      this.#sliceStart = performance.now();
    });
  }

  fail(message: string): never {
    throw new PermanentFailure(message);
  }

  snooze(delayMs: number): never {
    throw new Snooze(delayMs);
  }

  rateLimited(retryAfter: number | string | Date): never {
    throw new RateLimited(retryAfter);
  }
}
