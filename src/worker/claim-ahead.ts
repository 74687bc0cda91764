import type { ClaimedJob } from '../core/job.ts';

/** Jobs held ahead for one queue never exceed this many times its concurrency. */
const MAX_AHEAD_FACTOR = 8;
/** Claim round trips' worth of finished jobs to hold ahead. */
const ROUND_TRIPS = 4;
/** Weight of the newest sample in the moving averages. */
const SMOOTHING = 0.3;

/**
 * Jobs claimed ahead of free capacity, per queue, so the claim pipeline never drains: while a
 * batch runs, the next one is already here. How many: what this worker finishes of a queue in
 * about four claim round trips (measured, as moving averages), at most eight times the queue's
 * concurrency. Short jobs get big batches; slow jobs get next to none, so they stay in the
 * database for other workers. Waiting jobs hold leases from their claim; the worker renews them
 * with the running ones and releases them on shutdown.
 */
export class ClaimAhead {
  readonly #waiting = new Map<string, ClaimedJob[]>();
  readonly #finished = new Map<string, number>();
  readonly #rate = new Map<string, number>();
  #roundTripMs = 0;
  #lastSample = 0;

  /** How many jobs of `queue` to hold beyond those running, waiting ones included. */
  ahead(queue: string, concurrency: number): number {
    const wanted = Math.ceil((this.#rate.get(queue) ?? 0) * this.#roundTripMs * ROUND_TRIPS);
    return Math.min(wanted, concurrency * MAX_AHEAD_FACTOR);
  }

  /** Jobs waiting in every queue. */
  get size(): number {
    let size = 0;
    for (const list of this.#waiting.values()) size += list.length;
    return size;
  }

  waitingIn(queue: string): number {
    return this.#waiting.get(queue)?.length ?? 0;
  }

  /** A claim came back after `roundTripMs`: updates the estimates and keeps the jobs in claim order. */
  claimed(jobs: readonly ClaimedJob[], roundTripMs: number, now: number): void {
    this.#roundTripMs =
      this.#roundTripMs === 0
        ? roundTripMs
        : this.#roundTripMs + SMOOTHING * (roundTripMs - this.#roundTripMs);
    const elapsed = now - this.#lastSample;
    if (this.#lastSample > 0 && elapsed > 0) {
      for (const [queue, count] of this.#finished) {
        const rate = this.#rate.get(queue);
        const sample = count / elapsed;
        this.#rate.set(queue, rate === undefined ? sample : rate + SMOOTHING * (sample - rate));
      }
      for (const queue of this.#rate.keys())
        if (!this.#finished.has(queue))
          this.#rate.set(queue, this.#rate.get(queue)! * (1 - SMOOTHING));
    }
    this.#finished.clear();
    this.#lastSample = now;
    for (const job of jobs) {
      const list = this.#waiting.get(job.queue);
      if (list) list.push(job);
      else this.#waiting.set(job.queue, [job]);
    }
  }

  /** Counts a finished job of `queue` (for the rate). */
  finished(queue: string): void {
    this.#finished.set(queue, (this.#finished.get(queue) ?? 0) + 1);
  }

  /** The oldest waiting job of `queue`, taken out. */
  take(queue: string): ClaimedJob | undefined {
    return this.#waiting.get(queue)?.shift();
  }

  /** Queues with waiting jobs (this runs after every job, so it allocates nothing). */
  *queues(): Generator<string> {
    for (const [queue, list] of this.#waiting) if (list.length > 0) yield queue;
  }

  /** Takes a waiting job out (cancelled, or its lease is gone); true if it was waiting. */
  remove(id: string): boolean {
    for (const list of this.#waiting.values()) {
      const index = list.findIndex((job) => job.id === id);
      if (index >= 0) {
        list.splice(index, 1);
        return true;
      }
    }
    return false;
  }

  /** Every waiting job, e.g. to renew or release their leases. */
  all(): ClaimedJob[] {
    return [...this.#waiting.values()].flat();
  }

  /** Takes every waiting job out. */
  clear(): ClaimedJob[] {
    const jobs = this.all();
    this.#waiting.clear();
    return jobs;
  }
}
