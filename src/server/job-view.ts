import type { Job } from '../core/job.ts';

/**
 * The API's view of a job: ISO times, the worker, the links a client follows next and, when the
 * delivery job is given, how its webhook delivery went.
 */
export function toJobView(job: Job, delivery?: Job) {
  const self = `/v1/jobs/${job.id}`;
  return {
    id: job.id,
    task: job.task,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    uniqueKey: job.uniqueKey,
    key: job.key,
    payload: job.payload,
    progress: job.progress,
    result: job.result,
    error: job.error,
    errors: job.errors.map((entry) => ({ ...entry, at: iso(entry.at) })),
    worker: job.state === 'running' || job.state === 'claimed' ? job.leaseOwner : null,
    placement: job.placement,
    outputTail: job.outputTail,
    meta: job.meta,
    tags: job.tags,
    idempotencyKey: job.idempotencyKey,
    callbackUrl: job.callbackUrl,
    webhook: delivery
      ? {
          id: delivery.id,
          state: delivery.state,
          attempts: delivery.attempts,
          maxAttempts: delivery.maxAttempts,
          lastError: delivery.error?.message ?? null,
          link: `/v1/jobs/${delivery.id}`,
        }
      : null,
    runAt: iso(job.runAt),
    createdAt: iso(job.createdAt),
    startedAt: job.startedAt === null ? null : iso(job.startedAt),
    finishedAt: job.finishedAt === null ? null : iso(job.finishedAt),
    links: { self, events: `${self}/events`, cancel: `${self}/cancel`, retry: `${self}/retry` },
  };
}

export type JobView = ReturnType<typeof toJobView>;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
