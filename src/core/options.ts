import { z } from 'zod';
import { closest } from './closest.ts';
import { ErrorCodes, OffloadError } from './errors.ts';
import { hasNul, LIMITS, TIMER_LIMIT_WORDS } from './limits.ts';

/**
 * Validates one options object against its schema and returns it with defaults applied.
 * Unknown keys are refused with a "did you mean" suggestion; every other problem names the option
 * and what it accepts. This is the one place options of public constructors are checked.
 */
export function parseOptions<Schema extends z.ZodObject>(
  label: string,
  schema: Schema,
  input: unknown,
): z.output<Schema> {
  if (input === undefined) input = {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(`${label}: options must be an object, got ${describe(input)}`, label);
  }
  const known = Object.keys(schema.shape);
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      const guess = closest(key, known);
      const hint = guess ? `, did you mean \`${guess}\`?` : `; known options: ${known.join(', ')}`;
      throw invalid(`${label}: unknown option \`${key}\`${hint}`, label, key);
    }
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join('.');
  throw invalid(`${label}: option \`${path}\` ${issue.message}`, label, path);
}

function invalid(message: string, label: string, option?: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, message, {
    details: { label, ...(option === undefined ? {} : { option }) },
  });
}

/** A short description of a value's type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

const NUL_WORDS = 'must not contain the NUL character U+0000';
const noNul = (value: string) => !hasNul(value);

const milliseconds = z
  .number()
  .int('must be a whole number of milliseconds')
  .min(0, 'must be 0 or more');
const positiveInt = z.number().int('must be a whole number').min(1, 'must be 1 or more');
const timerWords = `must be ${TIMER_LIMIT_WORDS}`;
const priorityWords = `must be a whole number from -${LIMITS.priority} to ${LIMITS.priority}`;
const attemptsWords = `must be a whole number from 1 to ${LIMITS.attempts}`;
const runAtWords = `must be epoch milliseconds from 0 (1970-01-01) to ${LIMITS.runAt} (9999-12-31T23:59:59.999Z)`;

/** Whether epoch milliseconds are a run-at both stores and every clock reading of it can hold. */
export function isRunAt(ms: number): boolean {
  return Number.isInteger(ms) && ms >= 0 && ms <= LIMITS.runAt;
}

/** A string of `min` to `max` characters without U+0000 (PostgreSQL's `text` cannot hold it). */
function text(min: number, max: number) {
  const words = `must be ${min}-${max} characters`;
  return z.string().min(min, words).max(max, words).refine(noNul, NUL_WORDS);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * Reusable option schemas, so every entry point (library, HTTP, CLI) says the same thing about the
 * same kind of value and accepts the same range on both stores. The ranges are in src/limits.ts.
 */
export const optionSchemas = {
  milliseconds,
  /** `middleware` of createQueue and createWorker: an array of `(ctx, next) => …` functions. */
  middleware: z.array(
    z.custom<(...args: never[]) => unknown>(
      (value) => typeof value === 'function',
      'must be an array of functions `(ctx, next) => …`',
    ),
    { message: 'must be an array of functions `(ctx, next) => …`' },
  ),
  positiveInt,
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/,
      'must be 1-200 characters: letters, digits, and _ . : - (starting with a letter or digit)',
    ),
  /** A duration that becomes a Node.js timer (a timeout, a grace): 0 to 2^31-1 ms. */
  timerMs: milliseconds.max(LIMITS.timerMs, timerWords),
  /** An interval or lease that becomes a Node.js timer: 1 to 2^31-1 ms. */
  intervalMs: positiveInt.max(LIMITS.timerMs, timerWords),
  /** How long a job waits before it may run: a run-at, not a timer, so up to 100 years. */
  delayMs: milliseconds.max(LIMITS.delayMs, `must be at most ${LIMITS.delayMs} ms (100 years)`),
  /** An absolute run-at in epoch milliseconds. */
  runAtMs: z.number().int(runAtWords).min(0, runAtWords).max(LIMITS.runAt, runAtWords),
  priority: z
    .number()
    .int(priorityWords)
    .min(-LIMITS.priority, priorityWords)
    .max(LIMITS.priority, priorityWords),
  attempts: z.number().int(attemptsWords).min(1, attemptsWords).max(LIMITS.attempts, attemptsWords),
  uniqueKey: text(1, 500),
  idempotencyKey: text(1, 255),
  /** Any other string a store keeps (a worker id): not empty, no U+0000. */
  storedText: text(1, 1000),
  callbackUrl: z
    .string()
    .max(2048, 'must be at most 2048 characters')
    .refine(noNul, NUL_WORDS)
    .refine(
      isHttpUrl,
      'must be an absolute http:// or https:// URL, such as "https://example.com/hooks/offload"',
    ),
};
