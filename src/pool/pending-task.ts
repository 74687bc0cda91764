import { callSafely } from './call-safely.ts';
import type { RunOptions } from './contract.ts';
import type { PoolWorker } from './pool-worker.ts';
import type { TaskRequest } from './protocol.ts';

/** One `run()` call from submission until it settles. */
export class PendingTask {
  readonly id: number;
  readonly task: string;
  readonly payload: unknown;
  /** Milliseconds from the task's start; -1 means the task's own timeout. */
  readonly timeout: number;
  readonly options: RunOptions | undefined;
  readonly submittedAt: number;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (error: unknown) => void;
  worker: PoolWorker | undefined;
  settled = false;
  /** In a {@link TaskQueue}, waiting. */
  waiting = false;
  /** Settled (timed out or cancelled) while its worker still runs it. */
  abandoned = false;
  /** Its worker answered; it settles on the next turn. */
  answered = false;
  outputFrom = 0;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    fields: { id: number; task: string; payload: unknown; timeout: number; options: RunOptions | undefined; submittedAt: number },
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ) {
    this.id = fields.id;
    this.task = fields.task;
    this.payload = fields.payload;
    this.timeout = fields.timeout;
    this.options = fields.options;
    this.submittedAt = fields.submittedAt;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  request(): TaskRequest {
    return { id: this.id, task: this.task, payload: this.payload, timeout: this.timeout, job: this.options?.job };
  }

  /** Resolves or rejects once; later calls do nothing. Returns whether this call settled it. */
  settle(ok: boolean, value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.onAbort) this.options?.signal?.removeEventListener('abort', this.onAbort);
    if (this.options?.onOutput && this.worker) callSafely(this.options.onOutput, this.worker.handle.output.text(this.outputFrom));
    if (ok) this.#resolve(value);
    else this.#reject(value);
    return true;
  }
}
