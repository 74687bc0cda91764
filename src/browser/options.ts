import { closest } from '../core/closest.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { LIMITS, TIMER_LIMIT_WORDS } from '../core/limits.ts';

/** Options of the browser {@link createPool}; each states its default. */
export interface BrowserPoolOptions {
  /** URL of the module worker script that calls `serve(tasks)` (resolved against the page's URL). Required. */
  module: string | URL;
  /** Workers kept running even when idle. Default 1. */
  minWorkers?: number;
  /** Most workers at once. Default `navigator.hardwareConcurrency - 1`, at least 1. */
  maxWorkers?: number;
  /** A worker above `minWorkers` idle this long (ms) is ended. Default 10 000. */
  idleTimeout?: number;
  /** Most tasks waiting for a worker; `run` rejects with ERR_QUEUE_FULL beyond it. Default unlimited. */
  maxQueue?: number;
  /** Milliseconds a task may run, counted from its start, when `run` gives no `timeout`. Default: the task's own `timeout` (0: none). */
  taskTimeout?: number;
  /** A worker that has not called `serve()` this long (ms) after it was created failed to start. Default 10 000. */
  startTimeout?: number;
}

/** Options after validation, with every default filled in. */
export interface ResolvedBrowserOptions {
  module: string;
  minWorkers: number;
  maxWorkers: number;
  idleTimeout: number;
  maxQueue: number;
  taskTimeout: number | undefined;
  startTimeout: number;
}

/** The least value of each numeric option (all whole numbers; `maxQueue` may also be Infinity). */
const MINIMUM: Record<Exclude<keyof BrowserPoolOptions, 'module'>, number> = {
  minWorkers: 0,
  maxWorkers: 1,
  idleTimeout: 0,
  maxQueue: 0,
  taskTimeout: 0,
  startTimeout: 1,
};

/** Options that become timers, so at most {@link LIMITS.timerMs} (browsers' setTimeout clamps as Node's does). */
const TIMERS = new Set(['idleTimeout', 'taskTimeout', 'startTimeout']);

/**
 * Validates {@link BrowserPoolOptions} with the same messages as the Node pool's (unknown options get a
 * "did you mean"), without zod so the browser bundle stays small.
 */
export function resolveBrowserOptions(input: BrowserPoolOptions): ResolvedBrowserOptions {
  if (typeof input !== 'object' || input === null) throw invalid('options must be an object');
  const known = ['module', ...Object.keys(MINIMUM)];
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    throw invalid(
      `unknown option \`${key}\`${guess ? `, did you mean \`${guess}\`?` : `; known options: ${known.join(', ')}`}`,
      key,
    );
  }
  for (const [key, min] of Object.entries(MINIMUM)) {
    const value = (input as unknown as Record<string, unknown>)[key];
    if (value === undefined || (key === 'maxQueue' && value === Infinity)) continue;
    if (!Number.isInteger(value) || (value as number) < min)
      throw invalid(
        `option \`${key}\` must be a whole number, ${min} or more (got ${String(value)})`,
        key,
      );
    if (TIMERS.has(key) && (value as number) > LIMITS.timerMs)
      throw invalid(`option \`${key}\` must be ${TIMER_LIMIT_WORDS} (got ${String(value)})`, key);
  }
  const maxWorkers =
    input.maxWorkers ?? Math.max(1, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1);
  const minWorkers = input.minWorkers ?? Math.min(1, maxWorkers);
  if (minWorkers > maxWorkers)
    throw invalid(`option \`minWorkers\` must not exceed maxWorkers (${maxWorkers})`, 'minWorkers');
  return {
    module: moduleUrl(input.module),
    minWorkers,
    maxWorkers,
    idleTimeout: input.idleTimeout ?? 10_000,
    maxQueue: input.maxQueue ?? Infinity,
    taskTimeout: input.taskTimeout,
    startTimeout: input.startTimeout ?? 10_000,
  };
}

function moduleUrl(module: unknown): string {
  if (!(module instanceof URL) && (typeof module !== 'string' || module === '')) {
    throw invalid(
      'option `module` must be the URL of a module worker script that calls serve()',
      'module',
    );
  }
  try {
    return new URL(module, globalThis.location?.href).href;
  } catch {
    throw invalid(`option \`module\` is not a valid URL: ${String(module)}`, 'module');
  }
}

function invalid(message: string, option?: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, `createPool: ${message}`, {
    details: { label: 'createPool', ...(option === undefined ? {} : { option }) },
  });
}
