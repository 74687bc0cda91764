import { FINISHED_STATES, type Job } from '../core/job.ts';
import type { Store } from '../store/contract.ts';
import { JobWaits } from '../queue/job-waits.ts';

/** What a watcher hears about one job: a new state (or attempt), or new progress. */
export type JobChange = { kind: 'state'; job: Job } | { kind: 'progress'; job: Job };

type Listener = (change: JobChange) => void;

interface Watched {
  listeners: Set<Listener>;
  last: Job | undefined;
  reading: boolean;
  readAgain: boolean;
}

/**
 * Follows the jobs that open event streams watch, every change of them. Local store events name
 * the job; hints from other processes (`store:changed`) and a slow safety poll make it read all
 * watched jobs again, in one pass, so a thousand watching clients cost one sweep, not a thousand.
 * Waits for a job's end only (long polls) go to {@link JobWaits} instead.
 */
export class JobWatcher {
  readonly #store: Store;
  readonly #watched = new Map<string, Watched>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #pollMs: number;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;
  #sweepAgain = false;

  constructor(store: Store, options: { pollMs?: number } = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? 1000;
    const onJobEvent = (event: { id: string }) => {
      const watched = this.#watched.get(event.id);
      if (watched) void this.#refresh(event.id, watched);
    };
    for (const name of [
      'job:started',
      'job:progress',
      'job:succeeded',
      'job:retrying',
      'job:failed',
      'job:cancelled',
      'job:enqueued',
      'job:updated',
      'job:removed',
    ] as const) {
      this.#unsubscribe.push(store.on(name, onJobEvent));
    }
    this.#unsubscribe.push(store.on('store:changed', () => void this.#sweep()));
  }

  /** Calls `listener` on each change of job `id` until the returned function is called. */
  watch(id: string, initial: Job, listener: Listener): () => void {
    let watched = this.#watched.get(id);
    if (!watched) {
      watched = { listeners: new Set(), last: initial, reading: false, readAgain: false };
      this.#watched.set(id, watched);
    }
    watched.listeners.add(listener);
    this.#timer ??= setInterval(() => void this.#sweep(), this.#pollMs).unref();
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0) this.#watched.delete(id);
      if (this.#watched.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /**
   * Resolves with the job once it has finished, or with its latest state when `ms` runs out or
   * `signal` aborts. Long polls share the store's {@link JobWaits} with `queue.wait`: they wait on
   * job ends only, so they cost no sweep.
   */
  async waitForEnd(job: Job, ms: number, signal?: AbortSignal): Promise<Job> {
    if (FINISHED_STATES.includes(job.state) || ms <= 0) return job;
    const end = await JobWaits.of(this.#store).until(job.id, { timeoutMs: ms, signal });
    if (end.kind === 'ended') return end.job;
    return (await this.#store.jobGet({ id: job.id }).catch(() => undefined)) ?? job;
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    if (this.#timer) clearInterval(this.#timer);
    this.#watched.clear();
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping) {
      this.#sweepAgain = true;
      return;
    }
    this.#sweeping = true;
    try {
      do {
        this.#sweepAgain = false;
        await Promise.all([...this.#watched].map(([id, watched]) => this.#refresh(id, watched)));
      } while (this.#sweepAgain);
    } finally {
      this.#sweeping = false;
    }
  }

  /** Reads one job again; reads of one job never overlap, so changes arrive in order. */
  async #refresh(id: string, watched: Watched): Promise<void> {
    if (watched.reading) {
      watched.readAgain = true;
      return;
    }
    watched.reading = true;
    try {
      do {
        watched.readAgain = false;
        const job = await this.#store.jobGet({ id }).catch(() => undefined);
        if (job) this.#dispatch(watched, job);
      } while (watched.readAgain);
    } finally {
      watched.reading = false;
    }
  }

  #dispatch(watched: Watched, job: Job): void {
    const previous = watched.last;
    watched.last = job;
    let kind: JobChange['kind'] | undefined;
    if (!previous || previous.state !== job.state || previous.attempts !== job.attempts)
      kind = 'state';
    else if (JSON.stringify(previous.progress) !== JSON.stringify(job.progress)) kind = 'progress';
    if (!kind) return;
    for (const listener of [...watched.listeners]) listener({ kind, job });
  }
}
