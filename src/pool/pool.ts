import { InlinePool } from './inline-pool.ts';
import type { Pool } from './contract.ts';
import { resolvePoolOptions, type PoolOptions } from './pool-options.ts';
import { WorkerPool } from './worker-pool.ts';

/**
 * Creates a pool. See {@link PoolOptions} for every option and its default.
 *
 * @example
 * const pool = createPool({ mode: 'thread', module: new URL('./tasks.ts', import.meta.url) });
 * const digest = await pool.run('hash', { text: 'hello' });
 * await pool.close();
 */
export function createPool(options: PoolOptions): Pool {
  const resolved = resolvePoolOptions(options);
  return resolved.mode === 'inline' ? new InlinePool(resolved) : new WorkerPool(resolved);
}
