import type { TaskRequest } from '../pool/protocol.ts';
import type { Queued } from '../pool/task-queue.ts';
import type { BrowserRunOptions } from './contract.ts';
import type { WorkerSlot } from './worker-slot.ts';

/** One `run()` call of a browser pool, from submission until it settles. */
export class BrowserTask implements Queued {
  readonly id: number;
  readonly task: string;
  readonly payload: unknown;
  /** Milliseconds from the task's start; -1 means the task's own timeout. */
  readonly timeout: number;
  readonly options: BrowserRunOptions | undefined;
  readonly submittedAt = performance.now();
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (error: unknown) => void;
  settled = false;
  waiting = false;
  slot: WorkerSlot | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;

  constructor(request: Omit<TaskRequest, 'job'>, options: BrowserRunOptions | undefined, resolve: (value: unknown) => void, reject: (error: unknown) => void) {
    this.id = request.id;
    this.task = request.task;
    this.payload = request.payload;
    this.timeout = request.timeout;
    this.options = options;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  request(): TaskRequest {
    return { id: this.id, task: this.task, payload: this.payload, timeout: this.timeout, job: undefined };
  }

  /** Resolves or rejects once; later calls do nothing. Returns whether this call settled it. */
  settle(ok: boolean, value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.options?.signal?.removeEventListener('abort', this.onAbort);
    (ok ? this.#resolve : this.#reject)(value);
    return true;
  }
}
