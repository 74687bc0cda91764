import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { LIMITS } from '../../core/limits.ts';
import type { StartBreaker } from './start-breaker.ts';

/** The run options checked here, as any pool's `run()` takes them. */
export type RunChecked = Partial<
  Record<'timeout' | 'signal' | 'onProgress' | 'onOutput' | 'onLog' | 'transfer', unknown>
>;

/** Checks the arguments of `run()`, cheaply (it is on the hot path): an error to reject with, or undefined. */
export function checkRunOptions(
  name: unknown,
  options: RunChecked | undefined,
): OffloadError | undefined {
  if (typeof name !== 'string' || name === '')
    return invalid('the task must be a task name or a task made with defineTask()');
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null)
    return invalid('run options must be an object');
  const { timeout, signal, onProgress, onOutput, onLog, transfer } = options;
  if (
    timeout !== undefined &&
    !(
      Number.isInteger(timeout) &&
      (timeout as number) >= 0 &&
      (timeout as number) <= LIMITS.timerMs
    )
  ) {
    return invalid(
      `run option \`timeout\` must be a whole number of milliseconds from 0 to ${LIMITS.timerMs} (about 24.8 days, the longest a Node.js timer waits), got ${String(timeout)}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    return invalid('run option `signal` must be an AbortSignal');
  if (onProgress !== undefined && typeof onProgress !== 'function')
    return invalid('run option `onProgress` must be a function');
  if (onOutput !== undefined && typeof onOutput !== 'function')
    return invalid('run option `onOutput` must be a function');
  if (onLog !== undefined && typeof onLog !== 'function')
    return invalid('run option `onLog` must be a function');
  if (transfer !== undefined && !Array.isArray(transfer))
    return invalid('run option `transfer` must be an array');
  return undefined;
}

/** `label` names the pool in messages: its mode, or `browser`. */
export function poolClosed(label: string, how: 'closed' | 'destroyed' = 'closed'): OffloadError {
  return new OffloadError(
    ErrorCodes.POOL_CLOSED,
    `the ${label} pool was ${how}; it takes no more tasks`,
  );
}

/** What decides whether a pool takes one more task. */
export interface PoolGate {
  label: string;
  accepting: boolean;
  breaker: StartBreaker;
  /** The waiting line is at its `maxQueue`. */
  full: boolean;
  queued: number;
}

/** Why a pool refuses a new task now (closed, start breaker open, line full, signal aborted already), or undefined. */
export function refusal(gate: PoolGate, signal: AbortSignal | undefined): Error | undefined {
  if (!gate.accepting) return poolClosed(gate.label);
  const broken = gate.breaker.blocking(performance.now());
  if (broken) return broken;
  if (gate.full) {
    return new OffloadError(
      ErrorCodes.QUEUE_FULL,
      `the ${gate.label} pool already has ${gate.queued} tasks waiting (maxQueue); wait for some to finish or raise maxQueue`,
    );
  }
  if (signal?.aborted)
    return new OffloadError(ErrorCodes.TASK_CANCELLED, 'the task was cancelled before it started', {
      cause: signal.reason,
    });
  return undefined;
}

/** What a task that timed out or was cancelled rejects with; `after` tells what the pool did about it. */
export function stopError(
  task: string,
  reason: 'cancelled' | 'timeout',
  signal: AbortSignal | undefined,
  after = '',
): OffloadError {
  return reason === 'timeout'
    ? new OffloadError(
        ErrorCodes.TASK_TIMEOUT,
        `task "${task}" ran longer than its timeout${after}`,
        { details: { task } },
      )
    : new OffloadError(ErrorCodes.TASK_CANCELLED, `task "${task}" was cancelled`, {
        cause: signal?.reason,
        details: { task },
      });
}

function invalid(message: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, message);
}
