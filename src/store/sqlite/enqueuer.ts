import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.ts';
import type { EnqueueParams, EnqueueResult } from '../contract.ts';
import type { StoreEventHub } from '../events.ts';
import { idempotentReplay } from '../idempotency.ts';
import { eventOf, jobFromInsert, jobFromRow, type JobRow } from '../row.ts';
import { storageError } from './open-database.ts';
import { sql } from './queries.ts';

type Statement = Database.Statement<unknown[], unknown>;

/** Most rows one insert statement binds; bigger batches run as several, in one transaction. */
const INSERT_CHUNK = 250;

/** What the enqueuer needs of its store. */
export interface SqliteEnqueuerDeps {
  db: Database.Database;
  /** The database file, for error messages. */
  file: string;
  clock: Clock;
  events: StoreEventHub;
  /** The store's prepared statement for `text`, prepared once. */
  statement(text: string): Statement;
  /** Runs `work` in one IMMEDIATE transaction, turning storage failures into offload errors. */
  write<T>(work: () => T): T;
  /** Throws ERR_STORE_CLOSED once the store is closed. */
  assertOpen(): void;
}

/**
 * How the SQLite store adds jobs. Single enqueues started together share one transaction; bulk
 * enqueues bind many rows per statement, two values a row when the rows share their settings.
 */
export class SqliteEnqueuer {
  readonly #deps: SqliteEnqueuerDeps;
  readonly #rowStatements = new Map<number, Statement>();
  readonly #sharedStatements = new Map<number, Statement>();
  #pending: Array<{
    params: EnqueueParams;
    resolve: (result: EnqueueResult) => void;
    reject: (error: unknown) => void;
  }> = [];

  constructor(deps: SqliteEnqueuerDeps) {
    this.#deps = deps;
  }

  /** Adds one job without a unique or idempotency key; resolves once its transaction commits. */
  one(params: EnqueueParams): Promise<EnqueueResult> {
    this.#deps.assertOpen();
    return new Promise((resolve, reject) => {
      this.#pending.push({ params, resolve, reject });
      if (this.#pending.length === 1) queueMicrotask(() => this.commitPending());
    });
  }

  /**
   * Commits the single enqueues started together (before the microtasks run: `Promise.all`, a loop
   * without await) in one transaction; each promise still resolves only after that commit.
   */
  commitPending(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const { db, events } = this.#deps;
    let results: EnqueueResult[];
    try {
      this.#deps.assertOpen();
      const now = this.#deps.clock.now();
      const params = batch.map((entry) => entry.params);
      results =
        batch.length === 1 && !hasTags(params[0]!)
          ? this.#insertRows(params, now)
          : db.transaction(() => this.#insertChunks(params, now)).immediate();
    } catch (error) {
      const failure = storageError(error, this.#deps.file);
      for (const entry of batch) entry.reject(failure);
      return;
    }
    for (const [i, entry] of batch.entries()) {
      events.emit('job:enqueued', eventOf(results[i]!.job));
      entry.resolve(results[i]!);
    }
  }

  /** Adds jobs all together or not at all, in input order. */
  many(params: readonly EnqueueParams[]): EnqueueResult[] {
    this.#deps.assertOpen();
    const now = this.#deps.clock.now();
    const unique = params.some((job) => job.uniqueKey !== null || job.idempotencyKey !== null);
    const results = this.#deps.write(() =>
      unique ? this.#insertEach(params, now) : this.#insertChunks(params, now),
    );
    const events = this.#deps.events;
    if (events.listens('job:enqueued'))
      for (const { job, created } of results)
        if (created) events.emit('job:enqueued', eventOf(job));
    return results;
  }

  /** Row by row, so an idempotency or unique key that exists returns the existing job. */
  #insertEach(params: readonly EnqueueParams[], now: number): EnqueueResult[] {
    const { statement } = this.#deps;
    const insert = statement(sql.jobInsert);
    const results = params.map((job) => {
      const row = insert.get({ ...job, key: job.key ?? null, ...metaColumns(job), now }) as
        JobRow | undefined;
      if (row) return { job: jobFromRow(row, now), created: true };
      const same =
        job.idempotencyKey === null
          ? undefined
          : (statement(sql.jobByIdempotencyKey).get(job.idempotencyKey) as JobRow | undefined);
      if (same) return idempotentReplay(jobFromRow(same, now), job);
      const existing = statement(sql.jobByUniqueKey).get(job.uniqueKey) as JobRow;
      return { job: jobFromRow(existing, now), created: false };
    });
    this.#insertTags(params, results);
    return results;
  }

  /** Many rows per statement; ids are consecutive because this transaction is the only writer. */
  #insertChunks(params: readonly EnqueueParams[], now: number): EnqueueResult[] {
    const results: EnqueueResult[] = [];
    for (let start = 0; start < params.length; start += INSERT_CHUNK) {
      const chunk = params.slice(start, start + INSERT_CHUNK);
      for (const result of sameSettings(chunk)
        ? this.#insertShared(chunk, now)
        : this.#insertRows(chunk, now))
        results.push(result);
    }
    this.#insertTags(params, results);
    return results;
  }

  /** The tag rows of the new jobs that have tags, in one statement; none when no job has tags. */
  #insertTags(params: readonly EnqueueParams[], results: readonly EnqueueResult[]): void {
    let pairs: Array<[number, string]> | undefined;
    for (let i = 0; i < params.length; i++) {
      if (!hasTags(params[i]!) || !results[i]!.created) continue;
      const id = Number(results[i]!.job.id);
      pairs ??= [];
      for (const tag of params[i]!.tags!) pairs.push([id, tag]);
    }
    if (pairs) this.#deps.statement(sql.jobTagsInsert).run({ pairs: JSON.stringify(pairs) });
  }

  #insertRows(rows: readonly EnqueueParams[], now: number): EnqueueResult[] {
    const values: unknown[] = [];
    for (const job of rows) {
      values.push(
        job.queue,
        job.task,
        job.payload,
        job.priority,
        job.runAt,
        job.maxAttempts,
        job.timeoutMs,
        job.callbackUrl,
        now,
        job.key ?? null,
        job.meta ?? null,
        tagsColumn(job.tags),
      );
    }
    const insert = this.#prepared(this.#rowStatements, rows.length, sql.jobInsertRows);
    return inserted(rows, insert.run(values).lastInsertRowid, now);
  }

  /** Rows that differ only in payload and run-at (the usual bulk enqueue) bind two values a row instead of ten. */
  #insertShared(rows: readonly EnqueueParams[], now: number): EnqueueResult[] {
    const values: unknown[] = [];
    for (const job of rows) values.push(job.payload, job.runAt);
    const first = rows[0]!;
    const shared = {
      queue: first.queue,
      task: first.task,
      priority: first.priority,
      maxAttempts: first.maxAttempts,
      timeoutMs: first.timeoutMs,
      callbackUrl: first.callbackUrl,
      key: first.key ?? null,
      ...metaColumns(first),
      now,
    };
    const insert = this.#prepared(this.#sharedStatements, rows.length, sql.jobInsertShared);
    return inserted(rows, insert.run(values, shared).lastInsertRowid, now);
  }

  /** The insert statement for `rows` rows, prepared once per row count. */
  #prepared(
    cache: Map<number, Statement>,
    rows: number,
    text: (rows: number) => string,
  ): Statement {
    let statement = cache.get(rows);
    if (!statement) {
      statement = this.#deps.db.prepare(text(rows));
      cache.set(rows, statement);
    }
    return statement;
  }
}

/** The jobs a multi-row insert made, from the id of its last row. */
function inserted(
  rows: readonly EnqueueParams[],
  lastInsertRowid: number | bigint,
  now: number,
): EnqueueResult[] {
  const first = Number(lastInsertRowid) - rows.length + 1;
  const results = new Array<EnqueueResult>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const job = rows[i]!;
    results[i] = {
      job: jobFromInsert(job, first + i, now, JSON.parse(job.payload)),
      created: true,
    };
  }
  return results;
}

/** Whether the rows share every column but payload and run-at. */
function sameSettings(rows: readonly EnqueueParams[]): boolean {
  const first = rows[0]!;
  return rows.every(
    (job) =>
      job.queue === first.queue &&
      job.task === first.task &&
      job.priority === first.priority &&
      job.maxAttempts === first.maxAttempts &&
      job.timeoutMs === first.timeoutMs &&
      job.callbackUrl === first.callbackUrl &&
      (job.key ?? null) === (first.key ?? null) &&
      (job.meta ?? null) === (first.meta ?? null) &&
      tagsColumn(job.tags) === tagsColumn(first.tags),
  );
}

/** The meta and tags columns of a job: JSON text, or null for none. */
function metaColumns(job: EnqueueParams): { meta: string | null; tags: string | null } {
  return { meta: job.meta ?? null, tags: tagsColumn(job.tags) };
}

function hasTags(job: EnqueueParams): boolean {
  return job.tags !== undefined && job.tags !== null && job.tags.length > 0;
}

function tagsColumn(tags: readonly string[] | null | undefined): string | null {
  return tags && tags.length > 0 ? JSON.stringify(tags) : null;
}
