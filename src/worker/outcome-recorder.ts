import type { JobOutcome, Store } from '../store/contract.ts';

type Entry = {
  outcome: JobOutcome;
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
  #scheduled = false;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(store: Store) {
    this.#store = store;
  }

  /** Resolves true once committed, false when the lease had moved on (the outcome was refused). */
  record(outcome: JobOutcome): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ outcome, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
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
    this.#inFlight = this.#write(batch).catch(async (error: unknown) => {
      if (batch.length === 1) return batch[0]!.reject(error);
      await Promise.all(batch.map((entry) => this.#write([entry]).catch(entry.reject)));
    });
  }

  /** Writes entries in one call and resolves each; rejects (settling none) when the store refuses the call. */
  async #write(entries: Entry[]): Promise<void> {
    const accepted = await this.#store.jobRecordOutcomes(entries.map((entry) => entry.outcome));
    entries.forEach((entry, i) => entry.resolve(accepted[i] ?? false));
  }
}
