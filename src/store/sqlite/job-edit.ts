import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.ts';
import type { Job } from '../../core/job.ts';
import type { JobUpdateParams } from '../contract.ts';
import type { StoreEventHub } from '../events.ts';
import { eventOf, jobFromRow, type JobRow } from '../row.ts';
import { sql as storeSql, TOMBSTONE_QUEUE } from './queries.ts';

type Statement = Database.Statement<unknown[], unknown>;

export const sql = {
  jobUpdate: `
    UPDATE offload_jobs
       SET run_at = coalesce(@runAt, run_at), priority = coalesce(@priority, priority), payload = coalesce(@payload, payload)
     WHERE id = @id AND state = 'queued' AND queue <> '${TOMBSTONE_QUEUE}'
    RETURNING *`,
  /** A job that has not started or has ended, unless it is the store's newest (see jobTombstone). */
  jobRemove: `
    DELETE FROM offload_jobs
     WHERE id = @id AND state <> 'running' AND queue <> '${TOMBSTONE_QUEUE}'
       AND id < (SELECT max(id) FROM offload_jobs)
    RETURNING *`,
  /**
   * The store's newest job is emptied instead of deleted: SQLite hands out max(id) + 1, so deleting
   * it would give its id to the next job (see jobDeleteFinished). The row left behind reads as no
   * job (reads skip its queue), holds no key, and is pruned like any finished job once a newer one
   * exists.
   */
  jobTombstone: `
    UPDATE offload_jobs
       SET queue = '${TOMBSTONE_QUEUE}', task = '', payload = 'null', state = 'succeeded', priority = 0,
           unique_key = NULL, idempotency_key = NULL, callback_url = NULL, webhook_job_id = NULL, flow_key = NULL,
           slot = 0, progress = NULL, result = NULL, error = NULL, errors = NULL, placement = NULL, output_tail = NULL, meta = NULL, tags = NULL,
           lease_owner = NULL, lease_expires_at = NULL, finished_at = @now
     WHERE id = @id AND state <> 'running' AND queue <> '${TOMBSTONE_QUEUE}'
       AND id = (SELECT max(id) FROM offload_jobs)`,
} as const;

/** What the job editor needs of its store. */
export interface SqliteJobEditDeps {
  clock: Clock;
  events: StoreEventHub;
  statement(text: string): Statement;
  /** Runs `work` in one IMMEDIATE transaction. */
  write<T>(work: () => T): T;
  /** The ERR_JOB_NOT_FOUND or ERR_JOB_STATE error for a job the change did not match. */
  stateError(id: string, action: string, allowed: string): Error;
}

/**
 * Changes and removals of waiting or ended jobs on SQLite. Each is one write transaction whose
 * statement checks the state, and the store has one writer at a time, so a claim is either wholly
 * before it (the change finds the job running and refuses) or wholly after it.
 */
export class SqliteJobEdit {
  readonly #deps: SqliteJobEditDeps;

  constructor(deps: SqliteJobEditDeps) {
    this.#deps = deps;
  }

  update(params: JobUpdateParams): Job {
    const { statement, clock, events } = this.#deps;
    const row = statement(sql.jobUpdate).get({
      id: params.id,
      runAt: params.runAt ?? null,
      priority: params.priority ?? null,
      payload: params.payload ?? null,
    }) as JobRow | undefined;
    if (!row) throw this.#deps.stateError(params.id, 'be updated', 'scheduled or queued');
    const job = jobFromRow(row, clock.now());
    events.emit('job:updated', { ...eventOf(job), runAt: job.runAt });
    return job;
  }

  remove(params: { id: string }): Job {
    const { statement, clock, events } = this.#deps;
    const now = clock.now();
    const row = this.#deps.write(() => {
      const deleted = statement(sql.jobRemove).get({ id: params.id }) as JobRow | undefined;
      if (deleted) return deleted;
      const newest = statement(storeSql.jobGet).get(params.id) as JobRow | undefined;
      if (newest && statement(sql.jobTombstone).run({ id: params.id, now }).changes === 1)
        return newest;
      return undefined;
    });
    if (!row)
      throw this.#deps.stateError(
        params.id,
        'be removed',
        'scheduled, queued, succeeded, failed or cancelled',
      );
    const job = jobFromRow(row, now);
    events.emit('job:removed', eventOf(job));
    return job;
  }
}
