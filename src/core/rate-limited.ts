import { DURATION_WORDS, durationMs } from './duration.ts';
import { ErrorCodes, OffloadError } from './errors.ts';
import { MAX_RATE_LIMITED_MS } from './limits.ts';

/**
 * Thrown by `ctx.rateLimited(retryAfter)` (or by a task itself) when a remote service says "too
 * many requests": the job goes back to its queue without counting this run, and its flow key
 * (its whole queue when it has none) starts nothing until then. It crosses thread and process
 * boundaries by its name and its two plain fields, as {@link Snooze} does.
 */
export class RateLimited extends Error {
  /** How long to hold from when the worker records it (ms), when given as a wait. */
  readonly delayMs?: number;
  /** Until when to hold (epoch ms), when given as a Date. */
  readonly until?: number;

  /** `retryAfter`: milliseconds or a duration such as `'30s'` (more than 0, at most 7 days), or a Date. */
  constructor(retryAfter: number | string | Date) {
    const hold = rateLimitedHold(retryAfter, Date.now());
    super(
      'delayMs' in hold
        ? `rate limited for ${hold.delayMs} ms`
        : `rate limited until ${new Date(hold.until).toISOString()}`,
    );
    this.name = 'RateLimited';
    Object.assign(this, hold);
  }
}

const WORDS = `must be ${DURATION_WORDS} (more than 0, at most 7 days), or a Date at most 7 days ahead`;

/**
 * Checks a `retryAfter` and says how long it holds. A Date already past holds nothing: a remote
 * Retry-After is read against another clock. Throws ERR_INVALID_OPTION.
 */
export function rateLimitedHold(
  retryAfter: unknown,
  now: number,
): { delayMs: number } | { until: number } {
  if (retryAfter instanceof Date) {
    const until = retryAfter.getTime();
    if (Number.isFinite(until) && until - now <= MAX_RATE_LIMITED_MS) return { until };
  } else {
    const ms = durationMs(retryAfter);
    if (ms !== undefined && Number.isFinite(ms) && ms > 0 && ms <= MAX_RATE_LIMITED_MS)
      return { delayMs: Math.ceil(ms) };
  }
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `ctx.rateLimited: retryAfter ${describeRetryAfter(retryAfter)} ${WORDS}`,
    { details: { label: 'ctx.rateLimited', option: 'retryAfter' } },
  );
}

/**
 * Whether a run ended with a {@link RateLimited}: the class itself, or one rebuilt from a thread
 * or process by its name and fields. Another library's error that happens to be named
 * `RateLimited` carries neither field and fails the run as any error does.
 */
export function isRateLimited(error: unknown): error is RateLimited {
  if (error instanceof RateLimited) return true;
  const fields = error as { name?: unknown; delayMs?: unknown; until?: unknown } | null;
  return (
    fields?.name === 'RateLimited' &&
    (typeof fields.delayMs === 'number' || typeof fields.until === 'number')
  );
}

/** When a RateLimited thrown by a run holds until (epoch ms), by the worker's clock `now`. */
export function rateLimitedRunAt(
  error: { delayMs?: unknown; until?: unknown },
  now: number,
): number {
  const at =
    typeof error.until === 'number' && Number.isFinite(error.until)
      ? error.until
      : now + (Number(error.delayMs) || 0);
  return Math.floor(Math.min(now + MAX_RATE_LIMITED_MS, Math.max(now, at)));
}

function describeRetryAfter(value: unknown): string {
  if (value instanceof Date)
    return `${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()}`;
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}
