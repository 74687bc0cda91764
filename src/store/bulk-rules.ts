import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { BulkAction, BulkFilter, BulkRecord, BulkState, DeadLetterGroup } from './contract.ts';

/** Most jobs one chunk of a bulk action changes, in one transaction. */
export const BULK_CHUNK = 1000;

/**
 * The stored states each action applies to, as SQL over `state` (both stores store the same five
 * states): retry the ended-unsuccessfully, cancel what has not ended, delete what is not running
 * (ended, or queued and never started). `retry` keeps the single `jobRetry`'s rule.
 */
export const BULK_ELIGIBLE: Readonly<Record<BulkAction, string>> = {
  retry: `state IN ('failed','cancelled')`,
  cancel: `state IN ('queued','running')`,
  delete: `state IN ('queued','succeeded','failed','cancelled')`,
};

/** The row of a bulk action, as both stores keep it (PostgreSQL's bigints as text). */
export interface BulkRow {
  id: number | string;
  action: BulkAction;
  filter: string | BulkFilter;
  state: BulkState;
  matched: number | string;
  done: number | string;
  skipped: number | string;
  cursor: number | string;
  max_id: number | string;
  owner: string | null;
  lease_expires_at: number | string | null;
  error: string | null;
  created_at: number | string;
  updated_at: number | string;
  finished_at: number | string | null;
}

export function bulkFromRow(row: BulkRow): BulkRecord {
  return {
    id: String(row.id),
    action: row.action,
    filter: typeof row.filter === 'string' ? (JSON.parse(row.filter) as BulkFilter) : row.filter,
    state: row.state,
    matched: Number(row.matched),
    done: Number(row.done),
    skipped: Number(row.skipped),
    error: row.error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}

/** Whether a step by `owner` at `now` may run the action's next chunk. */
export function mayStep(row: BulkRow, owner: string, now: number): boolean {
  if (row.owner === null || row.owner === owner) return true;
  return row.lease_expires_at === null || Number(row.lease_expires_at) <= now;
}

/** The row of a dead-letter group, as both stores select it. */
export interface DeadLetterRow {
  task: string;
  code: string | null;
  message: string | null;
  n: number | string;
  first_seen: number | string | null;
  last_seen: number | string | null;
  last_id: number | string;
}

export function deadLetterFromRow(row: DeadLetterRow, queue: string | undefined): DeadLetterGroup {
  const filter: BulkFilter = { task: row.task, state: 'failed', errorCode: row.code };
  if (queue !== undefined) filter.queue = queue;
  if (row.code === null) filter.errorMessage = row.message ?? '';
  return {
    task: row.task,
    errorCode: row.code,
    errorMessage: row.message ?? '',
    count: Number(row.n),
    firstSeen: Number(row.first_seen ?? 0),
    lastSeen: Number(row.last_seen ?? 0),
    lastJobId: String(row.last_id),
    filter,
  };
}

/** The store error for an unknown bulk action id. */
export function bulkNotFound(id: string): OffloadError {
  return new OffloadError(ErrorCodes.BULK_NOT_FOUND, `no bulk action with id ${id}`, {
    details: { id },
  });
}
