import type Database from 'better-sqlite3';
import type { StoreEventHub } from '../events.ts';

/** Ends one hint names at most; past that it says `missed` and waiters look again at their jobs. */
const MAX_ENDED_PER_HINT = 10_000;

const READ_ENDS = `SELECT id, end_seq AS seq FROM offload_jobs INDEXED BY offload_jobs_end_seq
  WHERE end_seq IS NOT NULL AND end_seq > ? ORDER BY end_seq LIMIT ${MAX_ENDED_PER_HINT + 1}`;
const LAST_END = `SELECT end_seq FROM offload_jobs WHERE end_seq IS NOT NULL ORDER BY end_seq DESC LIMIT 1`;

/**
 * How a SQLite store hears of other processes' commits: it reads SQLite's `data_version` every
 * interval (a counter in shared memory, no I/O) and, when it moved, the jobs that ended since the
 * last look by their end sequence (migration 7), announcing both as one `store:changed` hint that
 * names them. Safe to stop unstarted and to stop twice.
 */
export class SqliteChangeWatch {
  readonly #db: Database.Database;
  readonly #events: StoreEventHub;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #dataVersion = 0;
  #lastEnd = 0;

  constructor(options: { db: Database.Database; events: StoreEventHub; intervalMs: number }) {
    this.#db = options.db;
    this.#events = options.events;
    this.#intervalMs = options.intervalMs;
  }

  start(): void {
    const version = this.#db.prepare('PRAGMA data_version').pluck();
    const readEnds = this.#db.prepare(READ_ENDS);
    this.#dataVersion = version.get() as number;
    this.#lastEnd = (this.#db.prepare(LAST_END).pluck().get() as number | null) ?? 0;
    this.#timer = setInterval(() => {
      const current = version.get() as number;
      if (current === this.#dataVersion) return;
      this.#dataVersion = current;
      const rows = readEnds.all(this.#lastEnd) as Array<{ id: number; seq: number }>;
      const missed = rows.length > MAX_ENDED_PER_HINT;
      if (missed) rows.length = MAX_ENDED_PER_HINT;
      if (rows.length > 0) this.#lastEnd = rows[rows.length - 1]!.seq;
      const ended = rows.map((row) => String(row.id));
      this.#events.emit('store:changed', missed ? { ended, missed } : { ended });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
