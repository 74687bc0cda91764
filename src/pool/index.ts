/**
 * offload/pool: run functions in an inline, thread or process pool without any queue (like
 * Piscina), with timeouts, cancellation, progress and crash containment. See docs/modes.md.
 */
export { createPool } from './pool.ts';
export type { Pool, RunOptions, PoolEvents, WorkerExitReason } from './contract.ts';
export type { PoolOptions } from './pool-options.ts';
export type { PoolStats, Percentiles } from './shared/pool-stats.ts';
