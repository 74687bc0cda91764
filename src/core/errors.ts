/**
 * Every error offload raises on purpose is an {@link OffloadError} with a string `code`, so callers
 * can branch on `err.code` instead of parsing messages. Messages say what was wrong and how to fix it.
 */
export const ErrorCodes = {
  /** An option or argument failed validation. */
  INVALID_OPTION: 'ERR_INVALID_OPTION',
  /** A payload was not JSON-serialisable or failed the task's schema. */
  INVALID_PAYLOAD: 'ERR_INVALID_PAYLOAD',
  /** A task returned a result that cannot be stored as JSON. */
  INVALID_RESULT: 'ERR_INVALID_RESULT',
  /** A payload's JSON was larger than the configured limit. */
  PAYLOAD_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  /** No task of that name is registered with the worker or the queue. */
  TASK_NOT_FOUND: 'ERR_TASK_NOT_FOUND',
  /** A task module could not be loaded or exported no tasks. */
  TASK_MODULE: 'ERR_TASK_MODULE',
  /** No job has that id. */
  JOB_NOT_FOUND: 'ERR_JOB_NOT_FOUND',
  /** The job is in a state that does not allow the requested change. */
  JOB_STATE: 'ERR_JOB_STATE',
  /** The database file is not an offload store, is corrupt, or cannot be opened. */
  STORE_CORRUPT: 'ERR_STORE_CORRUPT',
  /** The database was written by a newer offload and has a schema this version does not know. */
  STORE_TOO_NEW: 'ERR_STORE_TOO_NEW',
  /** The disk holding the store is full: nothing was written; free space and try again. */
  STORE_FULL: 'ERR_STORE_FULL',
  /** The store's database cannot be reached or refused the connection (host, port, credentials, database). */
  STORE_CONNECT: 'ERR_STORE_CONNECT',
  /** The database user lacks a privilege the store needs (creating its schema, for one). */
  STORE_PERMISSION: 'ERR_STORE_PERMISSION',
  /** The store was used after `close()`. */
  STORE_CLOSED: 'ERR_STORE_CLOSED',
  /** A configuration file could not be read or is invalid. */
  CONFIG: 'ERR_CONFIG',
  /** A task ran longer than its timeout. */
  TASK_TIMEOUT: 'ERR_TASK_TIMEOUT',
  /**
   * A task's `backoff` function threw, or returned something that is no delay (a Promise, NaN, a
   * negative or infinite number, not a number): that retry was scheduled with the default backoff.
   */
  INVALID_BACKOFF: 'ERR_INVALID_BACKOFF',
  /** A task was cancelled while it ran. */
  TASK_CANCELLED: 'ERR_TASK_CANCELLED',
  /** The worker lost the job's lease (it expired and the job moved on). */
  LEASE_LOST: 'ERR_LEASE_LOST',
  /** The worker that ran the job died before recording an outcome. */
  WORKER_DIED: 'ERR_WORKER_DIED',
  /** A pool's thread or child process died (crash, `process.exit`, out of memory, a signal, or killed for ignoring its signal) while running the task. */
  WORKER_CRASHED: 'ERR_WORKER_CRASHED',
  /** The worker was stopped: it claims nothing more (`runUntilIdle` after `stop`); create a new one. */
  WORKER_STOPPED: 'ERR_WORKER_STOPPED',
  /** A pool was closed or destroyed: it takes no new tasks, and destroy() rejects the unfinished ones. */
  POOL_CLOSED: 'ERR_POOL_CLOSED',
  /** A pool's waiting line is at its `maxQueue`. */
  QUEUE_FULL: 'ERR_QUEUE_FULL',
  /** An idempotency key was reused with a different task or payload than the job created with it. */
  IDEMPOTENCY_CONFLICT: 'ERR_IDEMPOTENCY_CONFLICT',
  /** A webhook's `offload-signature` header is missing, malformed, does not match, or is too old. */
  WEBHOOK_SIGNATURE: 'ERR_WEBHOOK_SIGNATURE',
  /** The HTTP client could not reach the server (refused, reset, DNS). */
  SERVER_UNREACHABLE: 'ERR_SERVER_UNREACHABLE',
  /** The server's answer was not what the API promises (not JSON, or an event stream cut before its end). */
  BAD_RESPONSE: 'ERR_BAD_RESPONSE',
  /** `waitForJob` or `queue.wait` ran out of time before the job ended. */
  WAIT_TIMEOUT: 'ERR_WAIT_TIMEOUT',
  /** `queue.wait` was given up by its `signal`; the job itself goes on. */
  WAIT_ABORTED: 'ERR_WAIT_ABORTED',
  /** The job `queue.wait` waited for failed for good; `cause` and `details.error` hold its error. */
  JOB_FAILED: 'ERR_JOB_FAILED',
  /** The job `queue.wait` waited for was cancelled. */
  JOB_CANCELLED: 'ERR_JOB_CANCELLED',
  /** A task's flow key function threw or returned no usable key for a payload; nothing was stored. */
  INVALID_KEY: 'ERR_INVALID_KEY',
  /** No bulk action has that id. */
  BULK_NOT_FOUND: 'ERR_BULK_NOT_FOUND',
  /** A bulk action's filter matches every job and `all: true` (`--all`) was not given. */
  BULK_FILTER_EMPTY: 'ERR_BULK_FILTER_EMPTY',
  /**
   * At enqueue, a job's `meta` is not a JSON object or is over 8 KiB of JSON (`MAX_META_BYTES`), or
   * its `tags` are not an array of short strings; `details.field` names which. Nothing was stored.
   */
  INVALID_META: 'ERR_INVALID_META',
  /**
   * A middleware (`middleware` of createQueue or createWorker) threw; `cause` is what it threw and
   * `details.middleware` names it (its function name, else its place in the array). At enqueue,
   * nothing was stored when it threw before `next()`; at run time, the run counts as failed.
   */
  MIDDLEWARE: 'ERR_MIDDLEWARE',
  /** A middleware called `next()` twice, or returned without calling it: the job was not stored, or its run did not happen. */
  MIDDLEWARE_NEXT: 'ERR_MIDDLEWARE_NEXT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error family of offload: `code` says what happened, `message` how to fix it. */
export class OffloadError extends Error {
  readonly code: ErrorCode;
  /** Extra facts for logs and HTTP problem documents (the option name, the job id…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OffloadError';
    this.code = code;
    this.details = Object.freeze({ ...options.details });
  }
}

/**
 * Thrown from a task (or by `ctx.fail()`) to fail the job for good: no further attempts are made,
 * whatever `attempts` says.
 */
export class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

/**
 * Thrown from a task (or by `ctx.snooze()`) to put the job back in its queue to run again after
 * `delayMs`, without counting this run as a failed attempt.
 */
export class Snooze extends Error {
  readonly delayMs: number;
  constructor(delayMs: number) {
    super(`snoozed for ${delayMs} ms`);
    this.name = 'Snooze';
    this.delayMs = delayMs;
  }
}

/** The error facts kept on a job record: enough to debug without the process that raised it. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Turns anything thrown into the plain object stored with a job. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'NonError', message: describeThrown(error) };
}

/** Words for a thrown value that is not an Error. */
export function describeThrown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return `non-error thrown: ${JSON.stringify(value)}`;
  } catch {
    return `non-error thrown: ${String(value)}`;
  }
}
