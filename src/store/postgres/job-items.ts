/** Pure helpers of the PostgreSQL store: outcome columns and notification items. */
import type { Job } from '../../job.ts';
import type { JobOutcome } from '../contract.ts';
import { announcedError } from './notifier.ts';

/** A job row's event fields, as statements return them. */
export type EventRow = { id: string; queue: string; task: string; attempts: number };

/** [kind, result, error, run_at] of one outcome, as the outcome statement takes them. */
export function outcomeColumns(outcome: JobOutcome, now: number): [string, string | null, string | null, number | null] {
  switch (outcome.kind) {
    case 'started':
      return ['start', null, null, null];
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

/** Most ids in one grouped item, so an item stays far below the 7 500-byte payload limit. */
const GROUP_SIZE = 250;

/**
 * Notification items of many jobs at once (`st` starts, `ok` successes): one item per queue and
 * task, `[queue, task, ids, attempts]`, about 10 bytes a job where one item per job takes 35–45.
 */
export function groupedItems(jobs: Iterable<{ id: string; queue: string; task: string; attempt: number }>): unknown[][] {
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
