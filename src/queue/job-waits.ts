import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { FINISHED_STATES, type Job } from '../core/job.ts';
import type { Store, StoreChange } from '../store/contract.ts';

/** How one wait ended: with the job's end, or without it. */
export type WaitEnd =
  | { kind: 'ended'; job: Job }
  | { kind: 'timeout' }
  | { kind: 'aborted'; reason: unknown }
  /** The job does not exist (never did, or was deleted while waited for). */
  | { kind: 'gone' }
  /** Reading the job failed (a closed store, a lost connection). */
  | { kind: 'error'; error: unknown };

interface Waiter {
  finish(end: WaitEnd): void;
}

/** The longest timer Node.js keeps: a wait with no timeout keeps the process alive with one of these. */
const KEEP_ALIVE_MS = 2 ** 31 - 1;

/** Events after which a waited job may have ended, or be gone (`job:removed`). */
const END_EVENTS = ['job:succeeded', 'job:failed', 'job:cancelled', 'job:removed'] as const;

const shared = new WeakMap<Store, JobWaits>();

/**
 * Every wait for a job's end on one store, behind one set of listeners: local end events and
 * PostgreSQL's carried ones name the job, SQLite's `store:changed` hints name the jobs that ended
 * in other processes, and only a `missed` hint (a reconnect, a store without events) makes it read
 * all the jobs waited for again. A job is read once per change however many waits it has, and a
 * wait costs a map entry and its timer, never a poll. Listeners are held only while waits are.
 */
export class JobWaits {
  readonly #store: Store;
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #reads = new Map<string, { again: boolean; done: Promise<void> }>();
  #unsubscribe: Array<() => void> = [];
  #keepAlive: NodeJS.Timeout | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The one instance of a store, shared by every queue and server over it. */
  static of(store: Store): JobWaits {
    let waits = shared.get(store);
    if (!waits) {
      waits = new JobWaits(store);
      shared.set(store, waits);
    }
    return waits;
  }

  /** Jobs waited for now. */
  get size(): number {
    return this.#waiters.size;
  }

  /** Reads of waited jobs in flight now. */
  get reading(): number {
    return this.#reads.size;
  }

  /**
   * Resolves once job `id` has ended (at once when it already has), or with why not: `timeoutMs`
   * ran out (undefined: no limit), `signal` aborted, no job has that id, or reading it failed.
   */
  until(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<WaitEnd> {
    const { timeoutMs, signal } = options;
    if (signal?.aborted) return Promise.resolve({ kind: 'aborted', reason: signal.reason });
    return new Promise<WaitEnd>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => waiter.finish({ kind: 'aborted', reason: signal!.reason });
      const waiter: Waiter = {
        finish: (end) => {
          if (!this.#remove(id, waiter)) return;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(end);
        },
      };
      this.#add(id, waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      // Registered before the read: an end committed meanwhile is seen by one or the other.
      const read = this.#check(id);
      const timeout = () => waiter.finish({ kind: 'timeout' });
      if (timeoutMs === 0) void read.then(timeout);
      else if (timeoutMs !== undefined) timer = setTimeout(timeout, timeoutMs);
    });
  }

  #add(id: string, waiter: Waiter): void {
    let set = this.#waiters.get(id);
    if (!set) {
      set = new Set();
      this.#waiters.set(id, set);
    }
    set.add(waiter);
    if (this.#unsubscribe.length === 0) this.#listen();
  }

  /** False when the waiter had already finished. */
  #remove(id: string, waiter: Waiter): boolean {
    const set = this.#waiters.get(id);
    if (!set?.delete(waiter)) return false;
    if (set.size === 0) this.#waiters.delete(id);
    if (this.#waiters.size === 0) this.#stopListening();
    return true;
  }

  #listen(): void {
    const onEnd = (event: { id: string }) => {
      if (this.#waiters.has(event.id)) void this.#check(event.id);
    };
    this.#unsubscribe = [
      ...END_EVENTS.map((name) => this.#store.on(name, onEnd)),
      this.#store.on('store:changed', (change) => this.#onChange(change)),
    ];
    this.#keepAlive = setInterval(() => undefined, KEEP_ALIVE_MS);
  }

  #stopListening(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  #onChange(change: StoreChange): void {
    if (change.missed) {
      for (const id of [...this.#waiters.keys()]) void this.#check(id);
      return;
    }
    for (const id of change.ended ?? []) if (this.#waiters.has(id)) void this.#check(id);
  }

  /**
   * Reads the job and finishes its waits if it has ended; reads of one job never overlap (a change
   * during a read makes it read again). Resolves once the job was read after this call.
   */
  #check(id: string): Promise<void> {
    const running = this.#reads.get(id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const read = { again: false, done: Promise.resolve() };
    this.#reads.set(id, read);
    read.done = this.#read(id, read);
    return read.done;
  }

  async #read(id: string, read: { again: boolean }): Promise<void> {
    await undefined;
    try {
      do {
        read.again = false;
        let job: Job | undefined;
        try {
          job = await this.#store.jobGet({ id });
        } catch (error) {
          this.#finishAll(id, { kind: 'error', error });
          return;
        }
        if (job === undefined) this.#finishAll(id, { kind: 'gone' });
        else if (FINISHED_STATES.includes(job.state)) this.#finishAll(id, { kind: 'ended', job });
      } while (read.again && this.#waiters.has(id));
    } finally {
      this.#reads.delete(id);
    }
  }

  #finishAll(id: string, end: WaitEnd): void {
    for (const waiter of [...(this.#waiters.get(id) ?? [])]) waiter.finish(end);
  }
}

/**
 * What `queue.wait` makes of a wait's end: the result of a job that succeeded, else an
 * OffloadError whose code says why (failed, cancelled, timed out, aborted, not found).
 */
export function waitResult(id: string, end: WaitEnd, timeoutMs: number | undefined): unknown {
  switch (end.kind) {
    case 'ended':
      return endedResult(end.job);
    case 'timeout':
      throw new OffloadError(
        ErrorCodes.WAIT_TIMEOUT,
        `job ${id} did not end within ${timeoutMs} ms; it goes on: wait again, or read it later with getJob()`,
        { details: { id, timeout: timeoutMs } },
      );
    case 'aborted':
      throw new OffloadError(
        ErrorCodes.WAIT_ABORTED,
        `the wait for job ${id} was aborted by its signal; the job goes on (cancel it with queue.cancel("${id}") if it should not)`,
        { cause: end.reason, details: { id } },
      );
    case 'gone':
      throw new OffloadError(ErrorCodes.JOB_NOT_FOUND, `no job with id ${id}`, {
        details: { id },
      });
    case 'error':
      throw end.error;
  }
}

function endedResult(job: Job): unknown {
  if (job.state === 'succeeded') return job.result;
  if (job.state === 'cancelled') {
    throw new OffloadError(ErrorCodes.JOB_CANCELLED, `job ${job.id} (${job.task}) was cancelled`, {
      details: { id: job.id, task: job.task, job },
    });
  }
  const error = job.error;
  throw new OffloadError(
    ErrorCodes.JOB_FAILED,
    `job ${job.id} (${job.task}) failed for good after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'}: ${error?.message ?? 'no error was recorded'}`,
    { cause: error && revive(error), details: { id: job.id, task: job.task, error, job } },
  );
}

/** The task's error as an Error again (name, message, stack and code as recorded), for `cause`. */
function revive(error: NonNullable<Job['error']>): Error {
  const revived = new Error(error.message);
  revived.name = error.name;
  if (error.stack !== undefined) revived.stack = error.stack;
  if (error.code !== undefined) Object.assign(revived, { code: error.code });
  return revived;
}
