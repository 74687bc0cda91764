import type { JobOutcome, LeaseRef, Store } from '../store/contract.ts';

/**
 * Outcomes whose run has ended for good as far as flow control goes: their slots may come back
 * before they are written. Not `rateLimited`: its key hold must be written before a slot frees.
 */
const ENDS: ReadonlySet<JobOutcome['kind']> = new Set(['succeeded', 'failed', 'snoozed']);

type Entry = {
  outcome: JobOutcome;
  /** The job's queue, when the caller told it (for {@link OutcomeRecorder.ended}). */
  queue: string | undefined;
  resolve: (accepted: boolean) => void;
  reject: (error: unknown) => void;
};

/**
 * Collects job outcomes and writes each batch in one store transaction on the next turn of the
 * event loop. Every outcome is committed before its promise resolves; batching only shares the
 * commit, so throughput grows without weakening what a resolved promise means. When a batch is
 * refused, each of its outcomes is written alone, so only the one at fault fails.
 */
export class OutcomeRecorder {
  readonly #store: Store;
  #batch: Entry[] = [];
  /** Batches being written (each until its write settles). */
  readonly #writing = new Set<Entry[]>();
  #scheduled = false;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Resolves true once committed, false when the lease had moved on (the outcome was refused).
   * `queue`: the job's queue, so that {@link ended} can tell it.
   */
  record(outcome: JobOutcome, queue?: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ outcome, queue, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * Leases of runs of `queues` that have ended and whose outcomes are not committed yet
   * (`ClaimParams.ended`).
   */
  ended(queues: ReadonlySet<string>): LeaseRef[] {
    const leases: LeaseRef[] = [];
    const add = (entries: readonly Entry[]) => {
      for (const entry of entries)
        if (entry.queue !== undefined && queues.has(entry.queue) && ENDS.has(entry.outcome.kind))
          leases.push(entry.outcome.lease);
    };
    add(this.#batch);
    for (const batch of this.#writing) add(batch);
    return leases;
  }

  /** Resolves when everything recorded so far is committed. */
  async drain(): Promise<void> {
    while (this.#scheduled || this.#batch.length > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.#inFlight;
    }
    await this.#inFlight;
  }

  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    this.#scheduled = false;
    this.#writing.add(batch);
    this.#inFlight = this.#write(batch)
      .catch(async (error: unknown) => {
        if (batch.length === 1) return batch[0]!.reject(error);
        await Promise.all(batch.map((entry) => this.#write([entry]).catch(entry.reject)));
      })
      .finally(() => this.#writing.delete(batch));
  }

  /** Writes entries in one call and resolves each; rejects (settling none) when the store refuses the call. */
  async #write(entries: Entry[]): Promise<void> {
    const accepted = await this.#store.jobRecordOutcomes(entries.map((entry) => entry.outcome));
    entries.forEach((entry, i) => entry.resolve(accepted[i] ?? false));
  }
}
