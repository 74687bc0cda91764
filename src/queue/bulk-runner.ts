import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate as yieldTurn, setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { BulkRecord, Store } from '../store/contract.ts';

/** How long a runner's hold on a bulk action lasts without a chunk; another process may resume it after. */
export const BULK_LEASE_MS = 30_000;
/** How often a handle looks at an action another process is running. */
const WATCH_MS = 250;

/** A bulk action under way: its id, its progress in the store, and a promise of its end. */
export interface BulkHandle {
  readonly id: string;
  /** Resolves with the final record (`done`, or `interrupted` by another process); rejects when this run fails or is stopped. */
  readonly done: Promise<BulkRecord>;
  /** The progress as stored now (matched, done, skipped, state). */
  progress(): Promise<BulkRecord>;
}

/**
 * Runs bulk actions chunk by chunk (one store transaction each), yielding the event loop between
 * chunks. One runner per Queue; `stop()` ends its runs between chunks, leaving each `running` in the
 * store so that a later `resume` (here or in another process) takes it up once its lease has run out.
 */
export class BulkRunner {
  readonly #store: Store;
  readonly #owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #running = new Map<string, BulkHandle>();
  #stopped = false;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Starts (or joins) the run of a stored action. */
  run(id: string): BulkHandle {
    const existing = this.#running.get(id);
    if (existing) return existing;
    this.#stopped = false;
    const done = this.#loop(id).finally(() => this.#running.delete(id));
    // The run's failure reaches whoever awaits `done`; unawaited, it is not an unhandled rejection.
    done.catch(() => undefined);
    const handle: BulkHandle = { id, done, progress: () => this.#get(id) };
    this.#running.set(id, handle);
    return handle;
  }

  /** Stops every run of this runner after its current chunk; resolves once they have stopped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#running.values()].map((handle) => handle.done));
  }

  async #loop(id: string): Promise<BulkRecord> {
    for (;;) {
      if (this.#stopped)
        throw new OffloadError(
          ErrorCodes.STORE_CLOSED,
          `bulk action ${id} stopped before its end; it stays running in the store and resumes with resumeBulk()`,
          { details: { id } },
        );
      let record: BulkRecord | null;
      try {
        record = await this.#store.jobBulkStep({ id, owner: this.#owner, leaseMs: BULK_LEASE_MS });
      } catch (error) {
        await this.#interrupt(id, error);
        throw error;
      }
      if (record === null) {
        // Another process holds it: watch it end (or its lease run out, then take it over).
        await sleep(WATCH_MS);
        continue;
      }
      if (record.state !== 'running') return record;
      await yieldTurn();
    }
  }

  /** A run that failed is marked interrupted, unless the store itself is gone (then it stays resumable). */
  async #interrupt(id: string, error: unknown): Promise<void> {
    const code = (error as { code?: string }).code;
    if (code === ErrorCodes.STORE_CLOSED || code === ErrorCodes.BULK_NOT_FOUND) return;
    const message = error instanceof Error ? error.message : String(error);
    await this.#store.jobBulkInterrupt({ id, error: message }).catch(() => undefined);
  }

  async #get(id: string): Promise<BulkRecord> {
    const record = await this.#store.jobBulkGet({ id });
    if (!record)
      throw new OffloadError(ErrorCodes.BULK_NOT_FOUND, `no bulk action with id ${id}`, {
        details: { id },
      });
    return record;
  }
}
