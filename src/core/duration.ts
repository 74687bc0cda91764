/**
 * Durations in words: `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'2d'`, or whole milliseconds. One parser,
 * so every option that takes a duration reads the same words.
 */
export type Duration = number | `${number}${DurationUnit}`;
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** Milliseconds of a duration, or undefined when it is neither a number nor a duration in words. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as DurationUnit]);
}

/** How an error message says what a duration may be, after "must be". */
export const DURATION_WORDS = `milliseconds or a duration such as '500ms', '30s', '5m', '1h', '1d'`;
