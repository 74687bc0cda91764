import type { Logger } from 'pino';
import type { SerializedError } from '../core/errors.ts';
import { runMiddleware, type Middleware } from '../core/middleware.ts';
import type { JobOutcome } from '../store/contract.ts';
import type { ExecutionMode } from '../task/task.ts';
import type { JobRun } from './job-run.ts';

/** What a run middleware sees of one run. Built once per run, only when the worker has middleware. */
export interface RunMiddlewareContext {
  /** The job as claimed. */
  readonly job: {
    readonly id: string;
    readonly task: string;
    readonly queue: string;
    readonly payload: unknown;
    readonly meta: Readonly<Record<string, unknown>>;
    readonly tags: readonly string[];
    readonly maxAttempts: number;
  };
  /** This run's attempt, counting from 1. */
  readonly attempt: number;
  /** Where the task runs: `inline`, `thread` or `process` (an `auto` task's mode for this run). */
  readonly mode: ExecutionMode;
  /** The worker's id (`createWorker({ id })`). */
  readonly workerId: string;
  /** The run's logger: the worker's, bound to the job's fields. */
  readonly log: Logger;
}

/**
 * How a run ended, as `await next()` in a run middleware resolves: `succeeded` (with the task's
 * result), `failed` for good or `retrying` at `retryAt` (with the error), `snoozed` or
 * `rateLimited` until `runAt`, `released` by a shutdown (queued again, not counted), or `dropped`
 * (cancelled while it ran, or its lease moved on: nothing was recorded).
 */
export type RunOutcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'retrying'; error: SerializedError; retryAt: number }
  | { kind: 'snoozed' | 'rateLimited'; runAt: number }
  | { kind: 'released' | 'dropped' };

/**
 * A middleware around each run in the worker (`createWorker({ middleware })`), in the worker's
 * own process whatever the mode: `await next()` runs the task and resolves with its
 * {@link RunOutcome}. A throw (before or after `next()`) fails the run with ERR_MIDDLEWARE, which
 * spends an attempt and is retried by the task's policy; what a middleware returns is ignored.
 */
export type RunMiddleware = Middleware<RunMiddlewareContext, RunOutcome>;

/**
 * Runs `execute` (the task's run) inside the middleware and returns the outcome to record. When a
 * middleware throws, misuses `next()` or never calls it, the outcome is a failure with its error
 * (logged with the middleware's name); a run that may record nothing (`dropped`) or was released
 * stays so, as no attempt may be written for it.
 */
export async function runThrough(
  middleware: readonly RunMiddleware[],
  run: JobRun,
  mode: ExecutionMode,
  workerId: string,
  execute: () => Promise<JobOutcome | null>,
): Promise<JobOutcome | null> {
  let ran: { outcome: JobOutcome | null } | undefined;
  try {
    await runMiddleware(
      middleware,
      runContext(run, mode, workerId),
      async () => {
        const outcome = await execute();
        ran = { outcome };
        return outcomeView(outcome);
      },
      'run',
    );
    return ran!.outcome;
  } catch (error) {
    const middlewareName = (error as { details?: { middleware?: unknown } }).details?.middleware;
    const kept = ran && (ran.outcome === null || ran.outcome.kind === 'released');
    run.log.warn(
      { err: error, middleware: middlewareName },
      kept
        ? `run middleware failed after the run; its outcome stands: ${(error as Error).message}`
        : `run middleware failed; the run counts as failed: ${(error as Error).message}`,
    );
    if (kept) return ran!.outcome;
    return run.failWith(error, ran?.outcome ?? undefined);
  }
}

function runContext(run: JobRun, mode: ExecutionMode, workerId: string): RunMiddlewareContext {
  const { job } = run;
  return {
    job: {
      id: job.id,
      task: job.task,
      queue: job.queue,
      payload: job.payload,
      meta: job.meta,
      tags: job.tags,
      maxAttempts: job.maxAttempts,
    },
    attempt: job.attempts,
    mode,
    workerId,
    get log() {
      return run.log;
    },
  };
}

/** The public view of an outcome; a result's JSON is parsed only when read. */
function outcomeView(outcome: JobOutcome | null): RunOutcome {
  if (outcome === null) return { kind: 'dropped' };
  switch (outcome.kind) {
    case 'succeeded': {
      const json = outcome.result;
      return {
        kind: 'succeeded',
        get result(): unknown {
          return JSON.parse(json);
        },
      };
    }
    case 'failed':
      return outcome.retryAt === null
        ? { kind: 'failed', error: outcome.error }
        : { kind: 'retrying', error: outcome.error, retryAt: outcome.retryAt };
    case 'snoozed':
    case 'rateLimited':
      return { kind: outcome.kind, runAt: outcome.runAt };
    default:
      return { kind: 'released' };
  }
}
