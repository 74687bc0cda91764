import { closest } from './closest.ts';
import { describeThrown, ErrorCodes, OffloadError } from './errors.ts';
import { LIMITS } from './limits.ts';

/**
 * How long to wait before the next attempt of a failed job: whole milliseconds, the curve object,
 * or a function of the number of failed attempts that returns milliseconds (a finite number, 0 or
 * more, returned synchronously; anything else is reported as ERR_INVALID_BACKOFF and that retry
 * uses {@link DEFAULT_BACKOFF}). Every delay is capped at {@link MAX_BACKOFF_MS}.
 */
export type Backoff =
  | number
  | { delay?: number; factor?: number; maxDelay?: number; jitter?: boolean }
  | ((attempt: number) => number);

/** Default backoff: 1 s, doubling each attempt, capped at one hour, with full jitter. */
export const DEFAULT_BACKOFF = Object.freeze({
  delay: 1000,
  factor: 2,
  maxDelay: 3_600_000,
  jitter: true,
});

/** Longest delay a backoff gives: the longest enqueue delay (100 years), so a retry's run-at is one the stores hold. */
export const MAX_BACKOFF_MS = LIMITS.delayMs;

const CURVE_FIELDS = ['delay', 'factor', 'maxDelay', 'jitter'];

/**
 * The delay before retry number `attempt + 1`, given that `attempt` runs have failed.
 * A number is a fixed delay. The object form grows `delay * factor^(attempt-1)` up to `maxDelay`;
 * with `jitter` the wait is drawn uniformly from the upper half of that, so workers that failed
 * together do not come back together. A function's value is floored. Every delay is capped at
 * MAX_BACKOFF_MS. Throws ERR_INVALID_BACKOFF when a function throws or returns something that is
 * no delay.
 */
export function backoffDelay(
  backoff: Backoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  if (typeof backoff === 'number') return bounded(backoff, attempt);
  if (typeof backoff === 'function')
    return bounded(Math.floor(callBackoff(backoff, attempt)), attempt);
  const { delay, factor, maxDelay, jitter } = { ...DEFAULT_BACKOFF, ...backoff };
  // 0 × Infinity is NaN: a zero delay stays zero however far the factor has grown.
  const grown = delay === 0 ? 0 : delay * factor ** Math.max(0, attempt - 1);
  const base = Math.min(maxDelay, grown);
  return bounded(Math.floor(jitter ? base / 2 + random() * (base / 2) : base), attempt);
}

/** Caps a delay at MAX_BACKOFF_MS; a static backoff that slipped past `defineTask` and gives no delay throws. */
function bounded(delay: number, attempt: number): number {
  const capped = Math.min(MAX_BACKOFF_MS, delay);
  if (!Number.isSafeInteger(capped) || capped < 0)
    throw invalidBackoff(attempt, `gave ${describeValue(delay)}`);
  return capped;
}

function callBackoff(backoff: (attempt: number) => unknown, attempt: number): number {
  let value: unknown;
  try {
    value = backoff(attempt);
  } catch (error) {
    throw invalidBackoff(attempt, `threw ${describeError(error)}`, error);
  }
  const problem = delayProblem(value);
  if (problem) throw invalidBackoff(attempt, `returned ${problem}`);
  return value as number;
}

/** What is wrong with a backoff function's value, or undefined when it is a delay. */
function delayProblem(value: unknown): string | undefined {
  if (typeof (value as { then?: unknown } | null | undefined)?.then === 'function')
    return 'a Promise (is it async?)';
  if (typeof value !== 'number') return describeValue(value);
  if (!Number.isFinite(value) || value < 0) return String(value);
  return undefined;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return typeof error === 'string' ? JSON.stringify(error) : describeThrown(error);
}

function invalidBackoff(attempt: number, did: string, cause?: unknown): OffloadError {
  return new OffloadError(
    ErrorCodes.INVALID_BACKOFF,
    `backoff(${attempt}) ${did}: a backoff function must return a finite number of milliseconds, 0 or more, at once`,
    {
      cause,
      details: { attempt, did },
    },
  );
}

/**
 * What is wrong with a `backoff` option, as `{ path, message }` (path below `backoff`), or
 * undefined when it is valid. A function is checked when it is called (see {@link backoffDelay}).
 */
export function backoffProblem(value: unknown): { path: string[]; message: string } | undefined {
  if (typeof value === 'function') return undefined;
  if (typeof value === 'number') return wholeMsProblem(value, []);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      path: [],
      message:
        'must be milliseconds, a function of the attempt, or { delay, factor, maxDelay, jitter }',
    };
  }
  const curve = value as Record<string, unknown>;
  for (const key of Object.keys(curve)) {
    if (CURVE_FIELDS.includes(key)) continue;
    const guess = closest(key, CURVE_FIELDS);
    return {
      path: [key],
      message: `is an unknown field \`${key}\`${guess ? `, did you mean \`${guess}\`?` : `; known fields: ${CURVE_FIELDS.join(', ')}`}`,
    };
  }
  for (const key of ['delay', 'maxDelay']) {
    const problem = curve[key] === undefined ? undefined : wholeMsProblem(curve[key], [key]);
    if (problem) return problem;
  }
  const { factor, jitter } = curve;
  if (
    factor !== undefined &&
    !(typeof factor === 'number' && Number.isFinite(factor) && factor >= 1)
  ) {
    return {
      path: ['factor'],
      message: `must be a finite number, 1 or more (1 keeps the delay fixed); got ${describeValue(factor)}`,
    };
  }
  if (jitter !== undefined && typeof jitter !== 'boolean')
    return { path: ['jitter'], message: `must be true or false; got ${describeValue(jitter)}` };
  return undefined;
}

function wholeMsProblem(
  value: unknown,
  path: string[],
): { path: string[]; message: string } | undefined {
  if (Number.isSafeInteger(value) && (value as number) >= 0) {
    if ((value as number) <= MAX_BACKOFF_MS) return undefined;
    return {
      path,
      message: `must be at most ${MAX_BACKOFF_MS} ms (100 years); got ${describeValue(value)}`,
    };
  }
  return {
    path,
    message: `must be a whole number of milliseconds, 0 or more; got ${describeValue(value)}`,
  };
}

/** A value as an error message names it: `NaN`, `-1`, `string "100"`, `undefined`, `an object`. */
function describeValue(value: unknown): string {
  if (typeof value === 'number' || value === undefined || value === null) return String(value);
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'boolean' || typeof value === 'bigint')
    return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  return `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
}
