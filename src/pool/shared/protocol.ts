/**
 * The typed message protocol between a pool and its threads or child processes. Both directions
 * batch: one `run` message carries several tasks, one `done` message several results, so a busy
 * worker is woken once per batch rather than once per task.
 */
import { OffloadError, describeThrown, type ErrorCode } from '../../core/errors.ts';
import type { TaskContext } from '../../task/task.ts';
import type { LogEntry } from './log-relay.ts';

/** The job facts a task sees as `ctx.job`. */
export type JobInfo = TaskContext['job'];

/** One task handed to a worker. `timeout` < 0 means "the task's own timeout". */
export interface TaskRequest {
  id: number;
  task: string;
  payload: unknown;
  timeout: number;
  job: JobInfo | undefined;
}

/** How a task ended inside the worker; `runMs` is measured there, from start to end. */
export type TaskReply =
  | { id: number; ok: true; value: unknown; runMs: number }
  | { id: number; ok: false; error: WireError; runMs: number };

/** Parent → worker. */
export type ParentMessage =
  | { t: 'run'; tasks: TaskRequest[] }
  | { t: 'cancel'; id: number; reason: 'cancelled' | 'timeout' }
  | { t: 'close' };

/** Worker → parent. */
export type ChildMessage =
  | { t: 'ready'; tasks: Array<{ name: string; timeout: number }> }
  | { t: 'init-error'; error: WireError }
  | { t: 'started'; id: number; timeout: number }
  /** One `ctx.logger` call of a running task, sent as it is made. */
  | ({ t: 'log'; id: number } & LogEntry)
  | {
      t: 'done';
      replies: TaskReply[];
      progress: Array<[id: number, value: unknown]> | undefined;
      heapUsed: number | undefined;
    }
  | { t: 'fatal'; error: WireError };

/** What a worker is told at start-up (thread `workerData`, or the first line of a child's argv). */
export interface WorkerConfig {
  module: string;
  /** An inline task gives up its loop at `ctx.yield()` after this many ms. */
  sliceMs: number;
  /** Report `heapUsed` with every `done` message (for recycling above a heap size). */
  reportHeap: boolean;
}

/** An error as it crosses the boundary: its own name, message, stack, code and plain extra fields. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  code: string | undefined;
  props: Record<string, unknown> | undefined;
}

const SKIP = new Set(['name', 'message', 'stack', 'code']);

/** Turns anything thrown into a {@link WireError}; extra own fields survive only if they are plain data. */
export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) {
    return {
      name: 'NonError',
      message: describeThrown(error),
      stack: undefined,
      code: undefined,
      props: undefined,
    };
  }
  const code = (error as { code?: unknown }).code;
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (SKIP.has(key)) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (isPlain(value)) (props ??= {})[key] = value;
  }
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    code: typeof code === 'string' ? code : undefined,
    props,
  };
}

/** Rebuilds an error from a {@link WireError}, keeping the stack from where it was thrown. */
export function fromWireError(wire: WireError): Error {
  const error =
    wire.name === 'OffloadError' && wire.code
      ? new OffloadError(wire.code as ErrorCode, wire.message, {
          details: (wire.props?.details ?? {}) as Record<string, unknown>,
        })
      : new Error(wire.message);
  const props = wire.name === 'OffloadError' ? { ...wire.props, details: undefined } : wire.props;
  Object.defineProperty(error, 'name', {
    value: wire.name,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  error.stack = wire.stack ?? `${wire.name}: ${wire.message}`;
  if (wire.code !== undefined && !(error instanceof OffloadError))
    Object.assign(error, { code: wire.code });
  if (props)
    for (const [key, value] of Object.entries(props))
      if (value !== undefined) Object.assign(error, { [key]: value });
  return error;
}

function isPlain(value: unknown, depth = 0): boolean {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return true;
  if (depth > 3 || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.every((item) => isPlain(item, depth + 1));
  const proto = Object.getPrototypeOf(value);
  return (
    (proto === Object.prototype || proto === null) &&
    Object.values(value as object).every((item) => isPlain(item, depth + 1))
  );
}
