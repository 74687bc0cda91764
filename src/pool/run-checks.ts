import { ErrorCodes, OffloadError } from '../errors.ts';
import type { ExecutionMode } from '../task-core.ts';

/** The run options checked here, as any pool's `run()` takes them. */
export type RunChecked = Partial<Record<'timeout' | 'signal' | 'onProgress' | 'onOutput' | 'transfer', unknown>>;

/** Checks the arguments of `run()`, cheaply (it is on the hot path): an error to reject with, or undefined. */
export function checkRunOptions(name: unknown, options: RunChecked | undefined): OffloadError | undefined {
  if (typeof name !== 'string' || name === '') return invalid('the task must be a task name or a task made with defineTask()');
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) return invalid('run options must be an object');
  const { timeout, signal, onProgress, onOutput, transfer } = options;
  if (timeout !== undefined && !(Number.isInteger(timeout) && (timeout as number) >= 0)) return invalid(`run option \`timeout\` must be a whole number of milliseconds, 0 or more (got ${String(timeout)})`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) return invalid('run option `signal` must be an AbortSignal');
  if (onProgress !== undefined && typeof onProgress !== 'function') return invalid('run option `onProgress` must be a function');
  if (onOutput !== undefined && typeof onOutput !== 'function') return invalid('run option `onOutput` must be a function');
  if (transfer !== undefined && !Array.isArray(transfer)) return invalid('run option `transfer` must be an array');
  return undefined;
}

export function poolClosed(mode: ExecutionMode, how: 'closed' | 'destroyed' = 'closed'): OffloadError {
  return new OffloadError(ErrorCodes.POOL_CLOSED, `the ${mode} pool was ${how}; it takes no more tasks`);
}

function invalid(message: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, message);
}
