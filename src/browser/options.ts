import { closest } from '../closest.ts';
import { ErrorCodes, OffloadError } from '../errors.ts';

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

type Check = (value: number) => string | undefined;

const whole: Check = (value) => (Number.isInteger(value) ? undefined : 'must be a whole number');
const atLeast = (min: number): Check => (value) => whole(value) ?? (value >= min ? undefined : `must be ${min} or more`);
const countOrInfinity: Check = (value) => (value === Infinity ? undefined : atLeast(0)(value));

const NUMBERS: Record<Exclude<keyof BrowserPoolOptions, 'module'>, Check> = {
  minWorkers: atLeast(0),
  maxWorkers: atLeast(1),
  idleTimeout: atLeast(0),
  maxQueue: countOrInfinity,
  taskTimeout: atLeast(0),
  startTimeout: atLeast(1),
};

/**
 * Validates {@link BrowserPoolOptions} with the same messages as the Node pool's (unknown options get a
 * "did you mean"), without zod so the browser bundle stays small.
 */
export function resolveBrowserOptions(input: BrowserPoolOptions): ResolvedBrowserOptions {
  if (typeof input !== 'object' || input === null) throw invalid('options must be an object');
  const known = ['module', ...Object.keys(NUMBERS)];
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    throw invalid(`unknown option \`${key}\`${guess ? `, did you mean \`${guess}\`?` : `; known options: ${known.join(', ')}`}`, key);
  }
  for (const [key, check] of Object.entries(NUMBERS)) {
    const value = (input as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const problem = typeof value === 'number' ? check(value) : 'must be a number';
    if (problem) throw invalid(`option \`${key}\` ${problem}`, key);
  }
  const maxWorkers = input.maxWorkers ?? Math.max(1, (globalThis.navigator?.hardwareConcurrency ?? 2) - 1);
  const minWorkers = input.minWorkers ?? Math.min(1, maxWorkers);
  if (minWorkers > maxWorkers) throw invalid(`option \`minWorkers\` must not exceed maxWorkers (${maxWorkers})`, 'minWorkers');
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
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw invalid('option `module` must be the URL of a module worker script that calls serve()', 'module');
  try {
    return new URL(module, globalThis.location?.href).href;
  } catch {
    throw invalid(`option \`module\` is not a valid URL: ${module}`, 'module');
  }
}

function invalid(message: string, option?: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, `createPool: ${message}`, { details: { label: 'createPool', ...(option === undefined ? {} : { option }) } });
}
