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

/** Calls a user callback; what it throws must not break the pool. */
export function callSafely<T>(callback: (value: T) => void, value: T): void {
  try {
    callback(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** Tasks waiting for a worker, first in first out. Cancelled tasks are skipped lazily. */
export class TaskQueue {
  #items: Array<PendingTask | undefined> = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(task: PendingTask): void {
    task.waiting = true;
    this.#items.push(task);
    this.#size++;
  }

  /** A task settled while it waited: it no longer counts, and `shift` will skip it. */
  forget(task: PendingTask): void {
    if (!task.waiting) return;
    task.waiting = false;
    this.#size--;
  }

  shift(): PendingTask | undefined {
    while (this.#head < this.#items.length) {
      const task = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (task) task.waiting = false;
      if (task && !task.settled) {
        this.#size--;
        return task;
      }
    }
    return undefined;
  }

  /** Empties the queue, returning the tasks still waiting. */
  drain(): PendingTask[] {
    const waiting = this.#items.slice(this.#head).filter((task): task is PendingTask => !!task && !task.settled);
    for (const task of waiting) task.waiting = false;
    this.#items = [];
    this.#head = 0;
    this.#size = 0;
    return waiting;
  }
}
