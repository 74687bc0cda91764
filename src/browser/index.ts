/**
 * offload/browser: a pool of module Web Workers with the Node pool's interface, so a page runs heavy
 * functions off its UI thread with `pool.run()`. No Node.js built-ins. See docs/browser.md.
 */
import { WebWorkerPool } from './browser-pool.ts';
import type { BrowserPool } from './contract.ts';
import { resolveBrowserOptions, type BrowserPoolOptions } from './options.ts';

/**
 * Creates a pool of module Web Workers, each loading `module` (a script that calls `serve(tasks)`
 * from `offload/browser/worker`). See {@link BrowserPoolOptions} for every option and its default.
 *
 * @example
 * const pool = createPool({ module: new URL('./worker.js', import.meta.url) });
 * const rows = await pool.run('mandelbrot', { width: 800, height: 600 });
 * await pool.close();
 */
export function createPool(options: BrowserPoolOptions): BrowserPool {
  return new WebWorkerPool(resolveBrowserOptions(options));
}

export type { BrowserPool, BrowserRunOptions } from './contract.ts';
export type { BrowserPoolOptions } from './options.ts';
export type { PoolStats, Percentiles } from '../pool/shared/pool-stats.ts';
export { OffloadError, ErrorCodes, type ErrorCode } from '../core/errors.ts';
