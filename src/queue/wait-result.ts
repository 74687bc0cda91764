import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { WaitEnd } from './job-waits.ts';

/**
 * What `queue.wait` makes of a wait's end: the result of a job that succeeded, else an
 * OffloadError whose code says why (failed, cancelled, timed out, aborted, not found).
 */
export function waitResult(id: string, end: WaitEnd, timeoutMs: number | undefined): unknown {
  switch (end.kind) {
    case 'ended':
      return endedResult(end.job);
    case 'timeout':
      throw new OffloadError(
        ErrorCodes.WAIT_TIMEOUT,
        `job ${id} did not end within ${timeoutMs} ms; it goes on: wait again, or read it later with getJob()`,
        { details: { id, timeout: timeoutMs } },
      );
    case 'aborted':
      throw new OffloadError(
        ErrorCodes.WAIT_ABORTED,
        `the wait for job ${id} was aborted by its signal; the job goes on (cancel it with queue.cancel("${id}") if it should not)`,
        { cause: end.reason, details: { id } },
      );
    case 'gone':
      throw new OffloadError(ErrorCodes.JOB_NOT_FOUND, `no job with id ${id}`, {
        details: { id },
      });
    case 'error':
      throw end.error;
  }
}

function endedResult(job: Job): unknown {
  if (job.state === 'succeeded') return job.result;
  if (job.state === 'cancelled') {
    throw new OffloadError(ErrorCodes.JOB_CANCELLED, `job ${job.id} (${job.task}) was cancelled`, {
      details: { id: job.id, task: job.task, job },
    });
  }
  const error = job.error;
  throw new OffloadError(
    ErrorCodes.JOB_FAILED,
    `job ${job.id} (${job.task}) failed for good after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'}: ${error?.message ?? 'no error was recorded'}`,
    { cause: error && revive(error), details: { id: job.id, task: job.task, error, job } },
  );
}

/** The task's error as an Error again (name, message, stack and code as recorded), for `cause`. */
function revive(error: NonNullable<Job['error']>): Error {
  const revived = new Error(error.message);
  revived.name = error.name;
  if (error.stack !== undefined) revived.stack = error.stack;
  if (error.code !== undefined) Object.assign(revived, { code: error.code });
  return revived;
}
