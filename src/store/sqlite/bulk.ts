import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.ts';
import {
  BULK_CHUNK,
  BULK_ELIGIBLE,
  bulkFromRow,
  bulkNotFound,
  deadLetterFromRow,
  mayStep,
  type BulkRow,
  type DeadLetterRow,
} from '../bulk-rules.ts';
import {
  WEBHOOK_QUEUE,
  WEBHOOK_TASK,
  type BulkAction,
  type BulkFilter,
  type BulkRecord,
  type BulkState,
  type DeadLetterGroup,
  type DeadLetterParams,
  type JobEvent,
} from '../contract.ts';
import type { JobState } from '../../core/job.ts';
import type { StoreEventHub } from '../events.ts';
import { eventOfRow } from '../row.ts';
import { sql as editSql } from './job-edit.ts';
import { filterClause, FLOW_REQUEUE, stateExpression } from './queries.ts';

type Statement = Database.Statement<unknown[], unknown>;
type ChangedRow = {
  id: number;
  queue: string;
  task: string;
  attempts: number;
  hooked?: number;
  state?: JobState;
};

/** What a bulk action does to the jobs of one chunk (@ids: a JSON array of job ids). */
const CHANGE: Readonly<Record<BulkAction, string>> = {
  // The single jobRetry's change, and the flow columns an enqueue would give the job now (a queue that
  // became limited after the job failed); OR IGNORE skips a job whose unique key another unfinished job holds.
  retry: `
    UPDATE OR IGNORE offload_jobs
       SET state = 'queued', attempts = 0, run_at = @now, finished_at = NULL, result = NULL,
           ${FLOW_REQUEUE}
     WHERE id IN (SELECT value FROM json_each(@ids)) AND ${BULK_ELIGIBLE.retry}
    RETURNING id, queue, task, attempts`,
  cancel: `
    UPDATE offload_jobs SET state = 'cancelled', finished_at = @now, lease_owner = NULL, lease_expires_at = NULL
     WHERE id IN (SELECT value FROM json_each(@ids)) AND ${BULK_ELIGIBLE.cancel}
    RETURNING id, queue, task, attempts, callback_url IS NOT NULL AS hooked`,
  // The newest job is emptied instead, as jobRemove does: SQLite would hand its id out again.
  delete: `
    DELETE FROM offload_jobs
     WHERE id IN (SELECT value FROM json_each(@ids)) AND ${BULK_ELIGIBLE.delete}
       AND id < (SELECT max(id) FROM offload_jobs)
    RETURNING id, queue, task, attempts, ${stateExpression} AS state`,
};

const EVENT = {
  retry: 'job:enqueued',
  cancel: 'job:cancelled',
  delete: 'job:removed',
} as const;

export interface SqliteBulkDeps {
  clock: Clock;
  events: StoreEventHub;
  statement(text: string): Statement;
  write<T>(work: () => T): T;
}

/**
 * Bulk actions and the dead-letter view of the SQLite store. Each chunk is one IMMEDIATE
 * transaction over at most {@link BULK_CHUNK} jobs taken by id cursor, so the write lock is held for
 * one chunk at a time and other writers (claims, outcomes) go between chunks.
 */
export class SqliteBulk {
  readonly #deps: SqliteBulkDeps;

  constructor(deps: SqliteBulkDeps) {
    this.#deps = deps;
  }

  count(action: BulkAction, filter: BulkFilter): number {
    const now = this.#deps.clock.now();
    const text = `SELECT count(*) AS n FROM offload_jobs WHERE ${BULK_ELIGIBLE[action]} AND ${bulkClause(filter)}`;
    return (this.#deps.statement(text).get(bulkParams(filter, now)) as { n: number }).n;
  }

  create(action: BulkAction, filter: BulkFilter): BulkRecord {
    const now = this.#deps.clock.now();
    const row = this.#deps.write(() => {
      const { maxId } = this.#deps
        .statement(`SELECT coalesce(max(id), 0) AS maxId FROM offload_jobs`)
        .get() as { maxId: number };
      const matched = this.count(action, filter);
      return this.#deps
        .statement(
          `INSERT INTO offload_bulk (action, filter, state, matched, max_id, created_at, updated_at)
           VALUES (@action, @filter, 'running', @matched, @maxId, @now, @now) RETURNING *`,
        )
        .get({ action, filter: JSON.stringify(filter), matched, maxId, now }) as BulkRow;
    });
    return bulkFromRow(row);
  }

  step(params: { id: string; owner: string; leaseMs: number; limit?: number }): BulkRecord | null {
    const now = this.#deps.clock.now();
    const limit = params.limit ?? BULK_CHUNK;
    let changed: ChangedRow[] = [];
    let action: BulkAction = 'retry';
    const row = this.#deps.write(() => {
      const current = this.#row(params.id);
      if (current.state !== 'running') return current;
      if (!mayStep(current, params.owner, now)) return null;
      action = current.action;
      const filter = JSON.parse(current.filter as string) as BulkFilter;
      // NOT INDEXED: the walk goes by rowid from the cursor, never through an index and a sort of every match.
      const picked = this.#deps
        .statement(
          `SELECT id FROM offload_jobs NOT INDEXED WHERE id > @cursor AND id <= @maxId AND ${BULK_ELIGIBLE[action]} AND ${bulkClause(filter)} ORDER BY id LIMIT @limit`,
        )
        .pluck()
        .all({ ...bulkParams(filter, now), cursor: current.cursor, maxId: current.max_id, limit });
      changed = picked.length
        ? (this.#deps
            .statement(CHANGE[action])
            .all({ ids: JSON.stringify(picked), now }) as ChangedRow[])
        : [];
      if (action === 'delete') changed.push(...this.#tombstone(picked, changed.length, now));
      const finished = picked.length < limit;
      return this.#deps
        .statement(
          `UPDATE offload_bulk SET done = done + @done, skipped = skipped + @skipped, cursor = @cursor,
                  owner = @owner, lease_expires_at = @expires, updated_at = @now,
                  state = CASE WHEN @finished THEN 'done' ELSE state END,
                  finished_at = CASE WHEN @finished THEN @now END
            WHERE id = @id RETURNING *`,
        )
        .get({
          id: params.id,
          done: changed.length,
          skipped: picked.length - changed.length,
          cursor: picked.length ? (picked[picked.length - 1] as number) : current.cursor,
          owner: params.owner,
          expires: now + params.leaseMs,
          now,
          finished: finished ? 1 : 0,
        }) as BulkRow;
    });
    this.#announce(action, changed);
    return row && bulkFromRow(row);
  }

  /** The store's newest job, when the chunk took it and the delete left it: emptied as jobRemove does. */
  #tombstone(picked: unknown[], deleted: number, now: number): ChangedRow[] {
    if (picked.length === deleted) return [];
    const newest = picked[picked.length - 1] as number;
    const row = this.#deps
      .statement(
        `SELECT id, queue, task, attempts, ${stateExpression} AS state FROM offload_jobs WHERE id = @id`,
      )
      .get({ id: newest, now }) as ChangedRow | undefined;
    if (!row) return [];
    const emptied = this.#deps.statement(editSql.jobTombstone).run({ id: newest, now }).changes;
    return emptied === 1 ? [row] : [];
  }

  interrupt(id: string, error: string): boolean {
    const now = this.#deps.clock.now();
    return (
      this.#deps
        .statement(
          `UPDATE offload_bulk SET state = 'interrupted', error = @error, updated_at = @now, finished_at = @now, owner = NULL
            WHERE id = @id AND state = 'running'`,
        )
        .run({ id, error, now }).changes > 0
    );
  }

  get(id: string): BulkRecord | undefined {
    const row = this.#deps.statement(`SELECT * FROM offload_bulk WHERE id = ?`).get(id) as
      BulkRow | undefined;
    return row && bulkFromRow(row);
  }

  list(state: BulkState | undefined): BulkRecord[] {
    const rows = this.#deps
      .statement(
        `SELECT * FROM offload_bulk WHERE @state IS NULL OR state = @state ORDER BY id DESC LIMIT 100`,
      )
      .all({ state: state ?? null }) as BulkRow[];
    return rows.map(bulkFromRow);
  }

  deadLetters(params: DeadLetterParams): DeadLetterGroup[] {
    const limit = Math.min(Math.max(params.limit ?? 100, 1), 1000);
    // A bare column beside max(id) is read from the row holding that max: the newest message.
    const rows = this.#deps
      .statement(
        `SELECT task, error ->> 'code' AS code, error ->> 'message' AS message, max(id) AS last_id,
                count(*) AS n, min(finished_at) AS first_seen, max(finished_at) AS last_seen
           FROM offload_jobs INDEXED BY offload_jobs_failed
          WHERE state = 'failed' AND (@queue IS NULL OR queue = @queue) AND (@task IS NULL OR task = @task)
          GROUP BY task, error ->> 'code', CASE WHEN error ->> 'code' IS NULL THEN error ->> 'message' END
          ORDER BY n DESC, last_id DESC LIMIT @limit`,
      )
      .all({ queue: params.queue ?? null, task: params.task ?? null, limit }) as DeadLetterRow[];
    return rows.map((row) => deadLetterFromRow(row, params.queue));
  }

  #row(id: string): BulkRow {
    const row = this.#deps.statement(`SELECT * FROM offload_bulk WHERE id = ?`).get(id) as
      BulkRow | undefined;
    if (!row) throw bulkNotFound(id);
    return row;
  }

  /** Events of a chunk, after its commit: one per job, and the deliveries a cancel made. */
  #announce(action: BulkAction, rows: ChangedRow[]): void {
    if (rows.length === 0) return;
    const name = EVENT[action];
    const events = this.#deps.events;
    const state = action === 'retry' ? 'queued' : 'cancelled';
    for (const row of rows) events.emit(name, eventOfRow(row, row.state ?? state));
    if (action === 'delete') return events.emit('store:changed', {});
    const hooked = rows.filter((row) => row.hooked).map((row) => row.id);
    if (hooked.length === 0) return;
    const deliveries = this.#deps
      .statement(
        `SELECT webhook_job_id AS id FROM offload_jobs WHERE id IN (SELECT value FROM json_each(@ids)) AND webhook_job_id IS NOT NULL`,
      )
      .pluck()
      .all({ ids: JSON.stringify(hooked) });
    for (const id of deliveries) events.emit('job:enqueued', delivery(id as number));
  }
}

function delivery(id: number): JobEvent {
  return { id: String(id), queue: WEBHOOK_QUEUE, task: WEBHOOK_TASK, state: 'queued', attempt: 0 };
}

/** WHERE clause of a bulk filter: the job filter's, plus error and age. */
function bulkClause(filter: BulkFilter): string {
  const parts = [filterClause(filter)];
  if (filter.errorCode === null) parts.push(`error IS NOT NULL AND error ->> 'code' IS NULL`);
  else if (filter.errorCode !== undefined) parts.push(`error ->> 'code' = @errorCode`);
  if (filter.errorMessage !== undefined) parts.push(`error ->> 'message' = @errorMessage`);
  if (filter.createdBefore !== undefined) parts.push(`created_at < @createdBefore`);
  return parts.join(' AND ');
}

function bulkParams(filter: BulkFilter, now: number): Record<string, unknown> {
  return {
    queue: filter.queue ?? null,
    task: filter.task ?? null,
    state: filter.state ?? null,
    tag: filter.tag ?? null,
    errorCode: filter.errorCode ?? null,
    errorMessage: filter.errorMessage ?? null,
    createdBefore: filter.createdBefore ?? null,
    now,
  };
}
