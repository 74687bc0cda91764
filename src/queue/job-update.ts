import { z } from 'zod';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';

/** What `queue.update` may change on a job that has not started; absent fields are kept. */
export interface JobChanges<Payload = unknown> {
  /** Earliest start, as a Date or epoch milliseconds, from 1970 through 9999-12-31. Overrides `delay`. */
  runAt?: Date | number;
  /** Milliseconds from now before the job may run, up to 100 years. */
  delay?: number;
  /** Higher runs first, from -1 000 000 to 1 000 000. */
  priority?: number;
  /** The new payload, checked against the task's schema when the queue knows the task's handle. */
  payload?: Payload;
}

const jobChangesSchema = z.object({
  runAt: z
    .union([z.date().transform((date) => date.getTime()), z.number()], {
      message: 'must be a Date or epoch milliseconds',
    })
    .pipe(optionSchemas.runAtMs)
    .optional(),
  delay: optionSchemas.delayMs.optional(),
  priority: optionSchemas.priority.optional(),
  payload: z.unknown().optional(),
});

/** Changes checked, with the run-at resolved against `now`; `payload` is still the caller's value. */
export interface ParsedJobChanges {
  runAt?: number;
  priority?: number;
  payload?: unknown;
}

/**
 * Checks the changes of an update: ranges as at enqueue, unknown fields with a "did you mean", and
 * at least one thing to change. Throws ERR_INVALID_OPTION.
 */
export function parseJobChanges(changes: unknown, now: number): ParsedJobChanges {
  const parsed = parseOptions('update', jobChangesSchema, changes);
  const result: ParsedJobChanges = {};
  if (parsed.runAt !== undefined) result.runAt = parsed.runAt;
  else if (parsed.delay !== undefined) result.runAt = now + parsed.delay;
  if (parsed.priority !== undefined) result.priority = parsed.priority;
  if (parsed.payload !== undefined) result.payload = parsed.payload;
  if (Object.keys(result).length === 0)
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'update: nothing to change; pass at least one of `runAt`, `delay`, `priority` or `payload`',
      { details: { label: 'update' } },
    );
  return result;
}
