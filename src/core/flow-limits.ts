import { z } from 'zod';
import { DURATION_WORDS, durationMs } from './duration.ts';
import { ErrorCodes, OffloadError } from './errors.ts';
import { hasNul } from './limits.ts';
import type { QueueLimits, RateWindow } from '../store/contract.ts';

/** Largest concurrency limit; far above what any pool runs, well inside both stores' integers. */
export const MAX_CONCURRENCY_LIMIT = 1_000_000;
/** Most starts a rate window holds: the store keeps one timestamp per start in the window. */
export const MAX_RATE_LIMIT = 10_000;
/** Shortest and longest rate window. */
export const MIN_RATE_WINDOW_MS = 10;
export const MAX_RATE_WINDOW_MS = 7 * 86_400_000;
/** A flow key: 1-500 characters without U+0000, like a unique key. */
export const MAX_KEY_LENGTH = 500;

const limitWords = `must be a whole number from 1 to ${MAX_CONCURRENCY_LIMIT}`;
const concurrencyLimit = z
  .number({ error: limitWords })
  .int(limitWords)
  .min(1, limitWords)
  .max(MAX_CONCURRENCY_LIMIT, limitWords);

/** A flow key as stored: the same rule for keys from enqueue options, key functions and overrides. */
export function flowKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return `must be a string, got ${key === null ? 'null' : typeof key}`;
  if (key.length < 1 || key.length > MAX_KEY_LENGTH)
    return `must be 1-${MAX_KEY_LENGTH} characters`;
  if (hasNul(key)) return 'must not contain the NUL character U+0000';
  return undefined;
}

const flowKey = z.string().superRefine((key, ctx) => {
  const problem = flowKeyProblem(key);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const windowMs = z
  .unknown()
  .transform((value, ctx) => {
    const ms = durationMs(value);
    const words = `must be ${DURATION_WORDS}, from ${MIN_RATE_WINDOW_MS} ms to 7 days`;
    if (
      ms === undefined ||
      !Number.isInteger(ms) ||
      ms < MIN_RATE_WINDOW_MS ||
      ms > MAX_RATE_WINDOW_MS
    ) {
      ctx.addIssue({ code: 'custom', message: words });
      return z.NEVER;
    }
    return ms;
  })
  .meta({
    description: `The window: ${DURATION_WORDS}, from ${MIN_RATE_WINDOW_MS} ms to 7 days`,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  });

const rateLimitWords = `must be a whole number from 1 to ${MAX_RATE_LIMIT}: the store keeps the time of every start in the window, so a higher rate needs a shorter window (1000 per '100ms' rather than 10000 per '1s' is the same rate)`;
const rateWindow = z
  .object({
    limit: z
      .number({ error: rateLimitWords })
      .int(rateLimitWords)
      .min(1, rateLimitWords)
      .max(MAX_RATE_LIMIT, rateLimitWords),
    per: windowMs,
  })
  .strict();

/** The schema of {@link QueueLimits}, durations in words accepted for `per`. */
export const queueLimitsSchema = z
  .object({
    concurrency: concurrencyLimit.optional(),
    keyConcurrency: concurrencyLimit.optional(),
    keyOverrides: z
      .record(flowKey, concurrencyLimit)
      .refine((overrides) => Object.keys(overrides).length <= 10_000, 'holds at most 10 000 keys')
      .optional(),
    rate: rateWindow.optional(),
    keyRate: rateWindow.optional(),
    order: z
      .enum(['fair', 'strict'], { error: "must be 'fair' or 'strict' (or left out)" })
      .optional(),
  })
  .strict();

/** Limits as users write them: `per` may be a duration in words. */
export type QueueLimitsInput = Omit<QueueLimits, 'rate' | 'keyRate'> & {
  rate?: RateWindowInput;
  keyRate?: RateWindowInput;
};
export type RateWindowInput = Omit<RateWindow, 'per'> & { per: number | string };

/**
 * Validates limits from any entry point and returns them normalised (`per` in ms, empty fields
 * dropped). Throws ERR_INVALID_OPTION naming the field and what it takes.
 */
export function parseQueueLimits(label: string, input: unknown): QueueLimits {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new OffloadError(ErrorCodes.INVALID_OPTION, `${label}: limits must be an object`, {
      details: { label },
    });
  }
  const parsed = queueLimitsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.join('.');
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field \`${issue.keys.join('`, `')}\`; limits take concurrency, keyConcurrency, keyOverrides, rate, keyRate, order`
        : `\`${path}\` ${issue.message}`;
    throw new OffloadError(ErrorCodes.INVALID_OPTION, `${label}: ${message}`, {
      details: { label, option: path },
    });
  }
  const limits: QueueLimits = {};
  for (const [field, value] of Object.entries(parsed.data)) {
    if (value !== undefined) (limits as Record<string, unknown>)[field] = value;
  }
  if (limits.keyOverrides && Object.keys(limits.keyOverrides).length === 0)
    delete limits.keyOverrides;
  return limits;
}

/** Whether limits hold anything a claim must respect. */
export function hasLimits(limits: QueueLimits | null | undefined): limits is QueueLimits {
  return !!limits && Object.keys(limits).length > 0;
}

/** The concurrency limit of `key` under `limits`, or null for none. */
export function keyLimit(limits: QueueLimits, key: string): number | null {
  if (limits.order === 'strict') return 1;
  return limits.keyOverrides?.[key] ?? limits.keyConcurrency ?? null;
}
