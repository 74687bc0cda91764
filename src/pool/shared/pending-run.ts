import type { JobInfo, TaskRequest } from './protocol.ts';
import type { Queued } from './task-queue.ts';

/** The run options a pending run reads itself; each pool's options have these and more. */
export interface PendingRunOptions {
  signal?: AbortSignal;
  job?: JobInfo;
}

/**
 * One `run()` call of any pool (inline, thread, process, browser), from submission until it
 * settles: the promise `run()` returns, the request a worker is sent, and the link to the caller's
 * signal. Each pool subclasses it with what it tracks per task. Platform-neutral.
 */
export class PendingRun<Options extends PendingRunOptions = PendingRunOptions> implements Queued {
  readonly id: number;
  readonly task: string;
  readonly payload: unknown;
  /** Milliseconds from the task's start; -1 means the task's own timeout. */
  readonly timeout: number;
  readonly options: Options | undefined;
  readonly submittedAt = performance.now();
  /** What `run()` returns: settled by {@link settle}. */
  readonly promise: Promise<never>;
  settled = false;
  /** In a {@link TaskQueue}, waiting. */
  waiting = false;
  /** The task's timeout, or a grace after it; cleared when it settles. */
  timer: ReturnType<typeof setTimeout> | undefined;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  #onAbort: (() => void) | undefined;

  constructor(
    id: number,
    task: string,
    payload: unknown,
    timeout: number,
    options: Options | undefined,
  ) {
    this.id = id;
    this.task = task;
    this.payload = payload;
    this.timeout = timeout;
    this.options = options;
    this.promise = new Promise<never>((resolve, reject) => {
      this.#resolve = resolve as (value: unknown) => void;
      this.#reject = reject;
    });
  }

  /** Calls `cancel` with this run if the caller's signal aborts before it settles. */
  cancelOnAbort(cancel: (run: this) => void): void {
    const signal = this.options?.signal;
    if (!signal) return;
    this.#onAbort = () => cancel(this);
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  request(): TaskRequest {
    return {
      id: this.id,
      task: this.task,
      payload: this.payload,
      timeout: this.timeout,
      job: this.options?.job,
    };
  }

  /** Resolves or rejects once; later calls do nothing. Returns whether this call settled it. */
  settle(ok: boolean, value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.#onAbort) this.options?.signal?.removeEventListener('abort', this.#onAbort);
    this.beforeSettle();
    if (ok) this.#resolve(value);
    else this.#reject(value);
    return true;
  }

  /** Runs once, just before the promise settles. */
  protected beforeSettle(): void {}
}
