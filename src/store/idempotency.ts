import { isDeepStrictEqual } from 'node:util';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { EnqueueParams, EnqueueResult } from './contract.ts';

/**
 * The answer to an enqueue whose idempotency key is taken: the job made with it, when the request
 * is the same one again (same task, same payload as JSON values); ERR_IDEMPOTENCY_CONFLICT otherwise.
 */
export function idempotentReplay(existing: Job, params: EnqueueParams): EnqueueResult {
  const samePayload = isDeepStrictEqual(existing.payload, JSON.parse(params.payload) as unknown);
  if (existing.task === params.task && samePayload) return { job: existing, created: false };
  const what = existing.task === params.task ? 'a different payload' : `task "${params.task}"`;
  throw new OffloadError(
    ErrorCodes.IDEMPOTENCY_CONFLICT,
    `idempotency key "${params.idempotencyKey}" was used for job ${existing.id} (task "${existing.task}") with another request; ` +
      `this one has ${what}. Send the same request again to get that job back, or use a new key for a new job`,
    { details: { idempotencyKey: params.idempotencyKey, jobId: existing.id } },
  );
}
