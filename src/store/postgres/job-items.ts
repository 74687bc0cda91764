/** Pure helpers of the PostgreSQL store: outcome columns and notification items. */
import type { Job } from '../../core/job.ts';
import type { JobOutcome } from '../contract.ts';

/** A job row's event fields, as statements return them. */
export type EventRow = { id: string; queue: string; task: string; attempts: number };

/** [kind, result, error, run_at] of one outcome, as the outcome statement takes them. */
export function outcomeColumns(
  outcome: JobOutcome,
  now: number,
): [string, string | null, string | null, number | null] {
  switch (outcome.kind) {
    case 'started':
      return ['start', null, null, null];
    case 'succeeded':
      return ['succeeded', outcome.result, null, null];
    case 'failed': {
      const error = JSON.stringify({ ...outcome.error, attempt: outcome.lease.attempt });
      return outcome.retryAt === null
        ? ['failed', null, error, null]
        : ['retry', null, error, outcome.retryAt];
    }
    case 'snoozed':
      return ['requeue', null, null, outcome.runAt];
    case 'released':
      return ['requeue', null, null, now];
    case 'rateLimited':
      return ['limited', null, null, outcome.runAt];
  }
}

/** A notification item of an enqueue: [id, queue, task, attempts, runAt]. */
export function enqueuedItem(job: Job): unknown[] {
  return [job.id, job.queue, job.task, job.attempts, job.runAt];
}

/** Longest error JSON that notifications carry whole. */
const ANNOUNCED_ERROR_BYTES = 1_500;

/** An error as announced: cut to name, message and code when its JSON is long (stacks stay in the job). */
export function announcedError(
  error: { name?: string; message?: string; code?: string; attempt?: number } & object,
): object {
  if (Buffer.byteLength(JSON.stringify(error)) <= ANNOUNCED_ERROR_BYTES) return error;
  return {
    name: String(error.name ?? 'Error').slice(0, 100),
    message: String(error.message ?? '').slice(0, 300),
    ...(error.code === undefined ? {} : { code: String(error.code).slice(0, 100) }),
    ...(error.attempt === undefined ? {} : { attempt: error.attempt }),
  };
}

/**
 * The error an outcome's notification carries, as JSON text, where it differs from the stored
 * `error` column (outcomeColumns): null when that column is short enough to announce as it is.
 */
export function announcedNote(outcome: JobOutcome, error: string | null): string | null {
  if (
    outcome.kind !== 'failed' ||
    error === null ||
    Buffer.byteLength(error) <= ANNOUNCED_ERROR_BYTES
  )
    return null;
  return JSON.stringify(announcedError({ ...outcome.error, attempt: outcome.lease.attempt }));
}

/** Most ids in one grouped item, so an item stays far below the 7 500-byte payload limit. */
const GROUP_SIZE = 250;

/**
 * Notification items of many jobs at once (`st` starts, `ok` successes): one item per queue and
 * task, `[queue, task, ids, attempts]`, about 10 bytes a job where one item per job takes 35–45.
 */
export function groupedItems(
  jobs: Iterable<{ id: string; queue: string; task: string; attempt: number }>,
): unknown[][] {
  const groups = new Map<string, [string, string, string[], number[]]>();
  const items: unknown[][] = [];
  for (const job of jobs) {
    const key = `${job.queue}\u0000${job.task}`;
    let group = groups.get(key);
    if (!group || group[2].length >= GROUP_SIZE) {
      group = [job.queue, job.task, [], []];
      groups.set(key, group);
      items.push(group);
    }
    group[2].push(job.id);
    group[3].push(job.attempt);
  }
  return items;
}
