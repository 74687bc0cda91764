/**
 * The ranges of the numbers users pass, in one place and without dependencies, so the zod schemas
 * of src/core/options.ts, the HTTP schemas, the CLI, the pools and the browser pool (which has no zod)
 * all refuse the same values with the same words. docs/http-api.md ("Limits") lists them.
 */
export const LIMITS = {
  /**
   * Longest time a Node.js timer waits: 2^31-1 ms, about 24.8 days. setTimeout fires after 1 ms
   * when asked for more, so every option that becomes a timer (timeouts, leases, intervals, graces)
   * is at most this. It also fits PostgreSQL's `integer` columns (`timeout_ms`).
   */
  timerMs: 2_147_483_647,
  /**
   * Longest enqueue delay: 100 years of 365.25 days. A delay is a run-at column (a 64-bit integer
   * on both stores), not a timer, so a job for next month or next year is fine.
   */
  delayMs: 3_155_760_000_000,
  /** Latest `runAt`, in epoch ms: 9999-12-31T23:59:59.999Z, the last instant an ISO 8601 date-time with a four-digit year names. */
  runAt: 253_402_300_799_999,
  /** Priorities run from -1 000 000 to 1 000 000: room enough for any scheme, well inside both stores' integers. */
  priority: 1_000_000,
  /** Most runs of one job (`attempts`). */
  attempts: 1_000,
} as const;

/** Longest `ctx.rateLimited` hold: a remote Retry-After beyond a week is a bug, not a limit. */
export const MAX_RATE_LIMITED_MS = 7 * 86_400_000;

/** How a message says the timer limit, after "must be". */
export const TIMER_LIMIT_WORDS = `at most ${LIMITS.timerMs} ms (about 24.8 days), the longest a Node.js timer waits`;

/** Whether a string holds U+0000, which PostgreSQL's `text` cannot store; every key and name is refused with it on both stores. */
export function hasNul(value: string): boolean {
  return value.includes('\u0000');
}
