import { z } from 'zod';
import { closest } from '../core/closest.ts';
import { DURATION_WORDS, durationMs, type Duration } from '../core/duration.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { JOB_STATES, type JobState } from '../core/job.ts';
import { tagFilterSchema } from '../core/job-meta.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';
import { BULK_ACTIONS, type BulkAction, type BulkFilter } from '../store/contract.ts';

/** Which jobs a bulk action takes; every field given must match. See {@link BulkOptions}. */
export interface BulkFilterInput {
  queue?: string;
  task?: string;
  /** A job state; it must be one the action applies to. Default: every state the action applies to. */
  state?: JobState;
  /** Only jobs carrying this tag. */
  tag?: string;
  /** The code of the job's last error (`ERR_TASK_TIMEOUT`, your own); null: an error without a code. */
  errorCode?: string | null;
  /** The message of the job's last error, whole. */
  errorMessage?: string;
  /** Only jobs created before this time. */
  createdBefore?: Date | number;
  /** Only jobs older than this (`'1h'`, `'7d'`, or milliseconds): a `createdBefore` of now minus it. */
  olderThan?: Duration;
}

/**
 * A bulk action: `retry` (failed or cancelled jobs, each with a fresh attempt budget, as `retry`
 * does), `cancel` (jobs that have not ended) or `delete` (jobs that ended or have not started).
 * A filter that matches every job is refused unless `all: true`; the filter takes new fields
 * without breaking old ones.
 */
export interface BulkOptions {
  action: BulkAction;
  filter?: BulkFilterInput;
  /** Confirms a filter that matches every job. Default false. */
  all?: boolean;
}

/** The job states each action applies to. */
export const BULK_STATES: Readonly<Record<BulkAction, readonly JobState[]>> = {
  retry: ['failed', 'cancelled'],
  cancel: ['scheduled', 'queued', 'claimed', 'running'],
  delete: ['scheduled', 'queued', 'succeeded', 'failed', 'cancelled'],
};

const optionsSchema = z.object({
  action: z.unknown(),
  filter: z.unknown().optional(),
  all: z.boolean({ message: 'must be true or false' }).optional(),
});

const filterSchema = z.object({
  queue: optionSchemas.name.optional(),
  task: optionSchemas.name.optional(),
  state: z
    .enum(JOB_STATES as [JobState, ...JobState[]], {
      message: `must be one of ${JOB_STATES.join(', ')}`,
    })
    .optional(),
  errorCode: z.string().min(1, 'must not be empty').max(200).nullable().optional(),
  errorMessage: z.string().min(1, 'must not be empty').max(10_000).optional(),
  createdBefore: z
    .union([z.date().transform((date) => date.getTime()), z.number()], {
      message: 'must be a Date or epoch milliseconds',
    })
    .pipe(optionSchemas.runAtMs)
    .optional(),
  olderThan: z.unknown().optional(),
  tag: tagFilterSchema.optional(),
});

/** A checked bulk action: the store's filter, with an age turned into `createdBefore`. */
export interface ParsedBulk {
  action: BulkAction;
  filter: BulkFilter;
}

/**
 * Checks a bulk action: the action, each filter field, a state the action applies to, and a filter
 * that matches everything only with `all: true` (ERR_BULK_FILTER_EMPTY). Throws ERR_INVALID_OPTION
 * naming the field otherwise.
 */
export function parseBulk(label: string, input: unknown, now: number): ParsedBulk {
  const options = parseOptions(label, optionsSchema, input);
  const action = parseAction(label, options.action);
  const parsed = parseOptions(`${label}: filter`, filterSchema, options.filter);
  const filter: BulkFilter = {};
  if (parsed.queue !== undefined) filter.queue = parsed.queue;
  if (parsed.task !== undefined) filter.task = parsed.task;
  if (parsed.state !== undefined) filter.state = parsed.state;
  if (parsed.tag !== undefined) filter.tag = parsed.tag;
  if (parsed.errorCode !== undefined) filter.errorCode = parsed.errorCode;
  if (parsed.errorMessage !== undefined) filter.errorMessage = parsed.errorMessage;
  const before = [parsed.createdBefore, olderThan(label, parsed.olderThan, now)].filter(
    (at): at is number => at !== undefined,
  );
  if (before.length) filter.createdBefore = Math.min(...before);
  if (filter.state !== undefined && !BULK_STATES[action].includes(filter.state))
    throw invalid(
      `${label}: filter \`state\` ${filter.state}: ${action} applies to ${BULK_STATES[action].join(', ')} jobs only`,
      'filter.state',
    );
  if (Object.keys(filter).length === 0 && options.all !== true)
    throw new OffloadError(
      ErrorCodes.BULK_FILTER_EMPTY,
      `${label}: the filter matches every job; narrow it (queue, task, state, tag, errorCode, errorMessage, createdBefore, olderThan) or pass \`all: true\` (--all) to ${action} every job it applies to`,
      { details: { label, action } },
    );
  return { action, filter };
}

function parseAction(label: string, value: unknown): BulkAction {
  if (typeof value === 'string' && (BULK_ACTIONS as readonly string[]).includes(value))
    return value as BulkAction;
  const guess = typeof value === 'string' ? closest(value, BULK_ACTIONS) : undefined;
  throw invalid(
    `${label}: option \`action\` must be one of ${BULK_ACTIONS.join(', ')}${guess ? `; did you mean "${guess}"?` : ''}`,
    'action',
  );
}

function olderThan(label: string, value: unknown, now: number): number | undefined {
  if (value === undefined) return undefined;
  const ms = durationMs(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0)
    throw invalid(`${label}: filter \`olderThan\` must be ${DURATION_WORDS}`, 'filter.olderThan');
  return now - ms;
}

function invalid(message: string, option: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, message, { details: { option } });
}
