/** Pure helpers of the PostgreSQL store: outcome columns, notification items, events. */
import type { Job, JobState } from '../../job.ts';
import type { JobEvent, JobOutcome } from '../contract.ts';
import { announcedError } from './notifier.ts';

/** A job row's event fields, as statements return them. */
export type EventRow = { id: string; queue: string; task: string; attempts: number };

/** [kind, result, error, run_at] of one outcome, as the outcome statement takes them. */
export function outcomeColumns(outcome: JobOutcome, now: number): [string, string | null, string | null, number | null] {
  switch (outcome.kind) {
    case 'succeeded':
      return ['succeeded', outcome.result, null, null];
    case 'failed': {
      const error = JSON.stringify({ ...outcome.error, attempt: outcome.lease.attempt });
      return outcome.retryAt === null ? ['failed', null, error, null] : ['retry', null, error, outcome.retryAt];
    }
    case 'snoozed':
      return ['requeue', null, null, outcome.runAt];
    case 'released':
      return ['requeue', null, null, now];
  }
}

/** A notification item of an enqueue: [id, queue, task, attempts, runAt]. */
export function enqueuedItem(job: Job): unknown[] {
  return [job.id, job.queue, job.task, job.attempts, job.runAt];
}

/** A notification item of an outcome: [id, queue, task, attempt, kind, error, runAt]. */
export function outcomeItem(outcome: JobOutcome, row: { id: string; queue: string; task: string }, now: number): unknown[] {
  const [kind, , , runAt] = outcomeColumns(outcome, now);
  const error = outcome.kind === 'failed' ? announcedError({ ...outcome.error, attempt: outcome.lease.attempt }) : null;
  return [String(row.id), row.queue, row.task, outcome.lease.attempt, kind, error, runAt];
}

/** Claim order: priority (higher first), then run-at, then id. */
export function claimOrder(a: Job, b: Job): number {
  return b.priority - a.priority || a.runAt - b.runAt || Number(a.id) - Number(b.id);
}

export function eventOf(job: Job): JobEvent {
  return { id: job.id, queue: job.queue, task: job.task, state: job.state, attempt: job.attempts };
}

export function eventOfRow(row: EventRow, state: JobState): JobEvent {
  return { id: String(row.id), queue: row.queue, task: row.task, state, attempt: row.attempts };
}
