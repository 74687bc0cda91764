import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import type { EnqueueParams, EnqueueResult } from '../contract.ts';
import type { StoreEventHub } from '../events.ts';
import { idempotentReplay } from '../idempotency.ts';
import { eventOf, jobFromInsert, jobFromRow, type JobRow } from '../row.ts';
import { enqueuedItem } from './job-items.ts';
import type { Notifier } from './notifier.ts';
import { sql, type QueryName } from './queries.ts';
import type { Queryable } from './queryable.ts';
import type { SharedFlush } from './shared-flush.ts';

/** Most jobs one insert statement takes; bigger batches run as several, in one transaction. */
const INSERT_CHUNK = 5_000;

/** What the enqueuer needs of its store. */
export interface EnqueuerDeps {
  /** Runs one named statement of queries.ts, on `db` when given, else on the store's pool. */
  run<R>(name: QueryName, values: unknown[], db?: Queryable): Promise<{ rows: R[] }>;
  /** Runs `work` in one transaction on one pool connection. */
  transaction<T>(work: (db: Queryable) => Promise<T>): Promise<T>;
  notifier: Notifier;
  events: StoreEventHub;
  /** The store's shared `walFlush`, which relaxed commits wait for before they are acknowledged. */
  flush: SharedFlush;
}

/**
 * How the PostgreSQL store adds jobs. On the store's own connections an insert announces its jobs
 * itself and commits without waiting for the disk, so workers can see and start them at once; the
 * enqueue resolves only after a shared flush has put that commit on disk (queries.ts, `walFlush`).
 * Where the role may not run the flush, inserts wait for the disk and are announced after their
 * commit. On a caller's client, the caller's transaction decides when the jobs exist.
 */
export class Enqueuer {
  readonly #deps: EnqueuerDeps;
  #flushAfterInsert = true;

  constructor(deps: EnqueuerDeps) {
    this.#deps = deps;
  }

  /** Checks once, at start, whether this role may run the flush; returns whether it may. */
  async probe(db: Queryable): Promise<boolean> {
    const { rows } = await db.query({ text: sql.walFlushAllowed });
    this.#flushAfterInsert = (rows[0] as { allowed?: boolean } | undefined)?.allowed === true;
    return this.#flushAfterInsert;
  }

  /** Adds one job; `db` is the caller's client, or undefined for the store's own connections. */
  async one(params: EnqueueParams, db: Queryable | undefined, now: number): Promise<EnqueueResult> {
    const result = await this.#insertOne(db, db !== undefined, params, now);
    if (db === undefined) await this.#acknowledge([result]);
    return result;
  }

  /** Adds jobs all together or not at all, in input order. */
  async many(
    params: readonly EnqueueParams[],
    own: Queryable | undefined,
    now: number,
  ): Promise<EnqueueResult[]> {
    const unique = params.some((job) => job.uniqueKey !== null || job.idempotencyKey !== null);
    const foreign = own !== undefined;
    const write = async (db: Queryable | undefined) => {
      if (!unique) return this.#insertChunks(db, foreign, params, now);
      const results: EnqueueResult[] = [];
      for (const job of params) results.push(await this.#insertOne(db, foreign, job, now));
      return results;
    };
    const single = !unique && params.length <= INSERT_CHUNK;
    const results = foreign || single ? await write(own) : await this.#deps.transaction(write);
    if (!foreign) await this.#acknowledge(results);
    return results;
  }

  /** What an enqueue on the store's own connections does after its inserts, before it resolves. */
  async #acknowledge(results: readonly EnqueueResult[]): Promise<void> {
    const { notifier, events } = this.#deps;
    if (!this.#flushAfterInsert)
      notifier.publish(
        'enq',
        results.filter((result) => result.created).map((result) => enqueuedItem(result.job)),
      );
    if (events.listens('job:enqueued'))
      for (const result of results)
        if (result.created) events.emit('job:enqueued', eventOf(result.job));
    if (this.#flushAfterInsert) await this.#deps.flush.request();
  }

  /**
   * Which insert an enqueue runs. `foreign`: on the caller's client, whose commit decides when the
   * job exists and announces it. Otherwise {@link #acknowledge} must follow before the enqueue
   * resolves (a job that a taken unique key points at may be just as fresh).
   */
  #insertQuery(many: boolean, foreign: boolean): QueryName {
    if (foreign) return many ? 'jobInsertManyClient' : 'jobInsertClient';
    if (this.#flushAfterInsert) return many ? 'jobInsertMany' : 'jobInsert';
    return many ? 'jobInsertManyDurable' : 'jobInsertDurable';
  }

  /** Inserts one job; with a unique key that is taken, returns the job that holds it. */
  async #insertOne(
    db: Queryable | undefined,
    foreign: boolean,
    job: EnqueueParams,
    now: number,
  ): Promise<EnqueueResult> {
    for (let attempt = 0; ; attempt++) {
      const values = [
        job.queue,
        job.task,
        job.payload,
        job.priority,
        job.runAt,
        job.maxAttempts,
        job.timeoutMs,
        job.uniqueKey,
        now,
        job.idempotencyKey,
        job.callbackUrl,
        job.key ?? null,
        job.meta ?? null,
        job.tags && job.tags.length > 0 ? job.tags : null,
      ];
      const inserted = await this.#deps.run<{ id: string }>(
        this.#insertQuery(false, foreign),
        values,
        db,
      );
      const row = inserted.rows[0];
      if (row)
        return {
          job: jobFromInsert(job, BigInt(row.id), now, JSON.parse(job.payload)),
          created: true,
        };
      if (job.idempotencyKey !== null) {
        const same = (await this.#deps.run<JobRow>('jobByIdempotencyKey', [job.idempotencyKey], db))
          .rows[0];
        if (same) return idempotentReplay(jobFromRow(same, now), job);
      }
      const existing = (await this.#deps.run<JobRow>('jobByUniqueKey', [job.uniqueKey], db))
        .rows[0];
      if (existing) return { job: jobFromRow(existing, now), created: false };
      // The holder finished between the two statements: the key is free again.
      if (attempt >= 5) {
        throw new OffloadError(
          ErrorCodes.JOB_STATE,
          `enqueue: unique key "${job.uniqueKey}" kept changing hands (its jobs ended and began again five times during this enqueue); try again`,
          {
            details: { uniqueKey: job.uniqueKey },
          },
        );
      }
    }
  }

  async #insertChunks(
    db: Queryable | undefined,
    foreign: boolean,
    params: readonly EnqueueParams[],
    now: number,
  ): Promise<EnqueueResult[]> {
    const results: EnqueueResult[] = [];
    for (let start = 0; start < params.length; start += INSERT_CHUNK) {
      const chunk = params.slice(start, start + INSERT_CHUNK);
      const columns = [[], [], [], [], [], [], []] as unknown[][];
      const callbacks: Array<string | null> = [];
      const keys: Array<string | null> = [];
      const metas: Array<string | null> = [];
      const tags: Array<string | null> = [];
      for (const job of chunk) {
        callbacks.push(job.callbackUrl);
        keys.push(job.key ?? null);
        metas.push(job.meta ?? null);
        tags.push(job.tags && job.tags.length > 0 ? JSON.stringify(job.tags) : null);
        columns[0]!.push(job.queue);
        columns[1]!.push(job.task);
        columns[2]!.push(job.payload);
        columns[3]!.push(job.priority);
        columns[4]!.push(job.runAt);
        columns[5]!.push(job.maxAttempts);
        columns[6]!.push(job.timeoutMs);
      }
      const { rows } = await this.#deps.run<{ id: string }>(
        this.#insertQuery(true, foreign),
        [...columns, now, callbacks, keys, metas, tags],
        db,
      );
      const ids = rows.map((row) => BigInt(row.id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      chunk.forEach((job, i) =>
        results.push({
          job: jobFromInsert(job, ids[i]!, now, JSON.parse(job.payload)),
          created: true,
        }),
      );
    }
    return results;
  }
}
