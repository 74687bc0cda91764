import type { Logger } from 'pino';
import type { SerializedError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { traceIdOf } from '../core/trace-id.ts';
import type { JobOutcome } from '../store/contract.ts';

/** The fields every log line about a job carries; `traceId` only when the job has a trace context. */
export interface JobLogFields {
  job: string;
  task: string;
  queue: string;
  attempt: number;
  traceId?: string;
}

/** What a job's log lines are bound to. `meta` is read for its W3C `traceparent`, when there is one. */
export type LoggedJob = Pick<Job, 'id' | 'task' | 'queue' | 'attempts'> & { meta?: unknown };

/** The fields to bind once per run (a pino child) or to put on a line about a job without one. */
export function jobLogFields(job: LoggedJob): JobLogFields {
  const fields: JobLogFields = {
    job: job.id,
    task: job.task,
    queue: job.queue,
    attempt: job.attempts,
  };
  const traceId = traceIdOf(job.meta);
  if (traceId !== undefined) fields.traceId = traceId;
  return fields;
}

/** Whether `log` would write a line at `level` (a pino-compatible logger without the method: yes). */
export function logsAt(log: Logger, level: 'info' | 'debug'): boolean {
  return typeof log.isLevelEnabled === 'function' ? log.isLevelEnabled(level) : true;
}

/** What the line of an ended run needs besides its outcome. */
export interface RunEnd {
  job: Pick<Job, 'id' | 'task' | 'maxAttempts'>;
  attempt: number;
  /** How long the run took (ms). */
  durationMs: number;
  /** When the outcome was made (epoch ms): a retry's delay counts from here. */
  decidedAt: number;
  /** Why a run without an outcome stopped. */
  abortReason: string | undefined;
}

/**
 * Writes the line of an ended run to `log` (the run's logger, with the job's fields bound): what
 * became of it, how long it ran, and for a failure why (`error`: name, message, code); a
 * retry says when it runs (`retryInMs`, `retryAt` as an ISO time), as do a snooze and a rate limit.
 */
export function logRunEnd(log: Logger, outcome: JobOutcome | null, end: RunEnd): void {
  const name = `job ${end.job.id} ${end.job.task}`;
  const durationMs = Math.round(end.durationMs);
  const took = `${durationMs} ms`;
  if (outcome === null) {
    log.info({ durationMs, reason: end.abortReason }, `${name} stopped (${end.abortReason})`);
    return;
  }
  switch (outcome.kind) {
    case 'succeeded':
      log.info({ durationMs }, `${name} succeeded in ${took}`);
      return;
    case 'failed': {
      const err = errorFields(outcome.error);
      const why = `${err.name}: ${err.message}${err.code ? ` [${err.code}]` : ''}`;
      const attempt = `attempt ${end.attempt} of ${end.job.maxAttempts}`;
      if (outcome.retryAt === null) {
        log.info({ durationMs, error: err }, `${name} failed after ${took} (${attempt}): ${why}`);
        return;
      }
      const when = later(outcome.retryAt, end.decidedAt);
      log.info(
        { durationMs, error: err, retryInMs: when.inMs, retryAt: when.at },
        `${name} failed after ${took} (${attempt}): ${why}; retry in ${when.inMs} ms at ${when.at}`,
      );
      return;
    }
    case 'snoozed':
    case 'rateLimited': {
      const when = later(outcome.runAt, end.decidedAt);
      const what = outcome.kind === 'snoozed' ? 'snoozed' : 'was rate limited';
      log.info(
        { durationMs, runInMs: when.inMs, runAt: when.at },
        `${name} ${what} after ${took}; runs again in ${when.inMs} ms at ${when.at}`,
      );
      return;
    }
    case 'released':
      log.info({ durationMs }, `${name} released unfinished at shutdown after ${took}`);
      return;
    case 'started':
      return;
  }
}

function later(at: number, from: number): { inMs: number; at: string } {
  return { inMs: Math.max(0, Math.round(at - from)), at: new Date(at).toISOString() };
}

/** A stored error as a log field: `name`, `message`, and `code` when it has one (the stack stays on the job). */
function errorFields(error: SerializedError): SerializedError {
  const fields: SerializedError = { name: error.name, message: error.message };
  if (error.code !== undefined) fields.code = error.code;
  return fields;
}
