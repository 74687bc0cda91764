/** How long to wait before the next attempt of a failed job. */
export type Backoff =
  | number
  | { delay?: number; factor?: number; maxDelay?: number; jitter?: boolean }
  | ((attempt: number) => number);

/** Default backoff: 1 s, doubling each attempt, capped at one hour, with full jitter. */
export const DEFAULT_BACKOFF = Object.freeze({ delay: 1000, factor: 2, maxDelay: 3_600_000, jitter: true });

/**
 * The delay before retry number `attempt + 1`, given that `attempt` runs have failed.
 * A number is a fixed delay. The object form grows `delay * factor^(attempt-1)` up to `maxDelay`;
 * with `jitter` the wait is drawn uniformly from the upper half of that, so workers that failed
 * together do not come back together.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  if (typeof backoff === 'number') return backoff;
  if (typeof backoff === 'function') return Math.max(0, Math.floor(backoff(attempt)));
  const { delay, factor, maxDelay, jitter } = { ...DEFAULT_BACKOFF, ...backoff };
  const base = Math.min(maxDelay, delay * factor ** Math.max(0, attempt - 1));
  return Math.floor(jitter ? base / 2 + random() * (base / 2) : base);
}
