import type { z } from 'zod';
import { FINISHED_STATES, type Job } from '../../core/job.ts';
import type { JobChanges } from '../../queue/job-update.ts';
import type { EnqueueOptions } from '../../queue/queue.ts';
import type { ApiContext } from '../api-context.ts';
import { toJobView } from '../job-view.ts';
import { HttpProblem, parseRequestPart } from '../problem.ts';
import { defineRoute, type RouteSpec } from '../route.ts';
import {
  enqueueBatchBodySchema,
  enqueueBodySchema,
  getJobQuerySchema,
  idempotencyKeySchema,
  jobBatchSchema,
  jobIdParamsSchema,
  jobListSchema,
  jobUpdateBodySchema,
  jobViewSchema,
  listJobsQuerySchema,
  problemSchema,
} from '../schemas.ts';
import { EventStream } from '../sse.ts';

type EnqueueBody = z.output<typeof enqueueBodySchema>;
type JobUpdateBody = z.output<typeof jobUpdateBodySchema>;

const problem = (description: string) => ({
  description,
  schema: problemSchema,
  contentType: 'application/problem+json',
});

/** Submit, read, wait on, stream, list, change, remove, cancel and retry jobs. */
export function jobRoutes(api: ApiContext): RouteSpec[] {
  /** The job with its webhook delivery's attempts, when it has one. */
  const withDelivery = async (job: Job) => {
    const delivery = job.webhookJobId
      ? await api.store.jobGet({ id: job.webhookJobId })
      : undefined;
    return toJobView(job, delivery);
  };

  const find = async (id: string): Promise<Job> => {
    const job = await api.store.jobGet({ id });
    if (!job)
      throw new HttpProblem(
        404,
        'ERR_JOB_NOT_FOUND',
        `no job has id ${id}; it may never have existed or been deleted by retention`,
      );
    return job;
  };

  return [
    defineRoute({
      method: 'POST',
      url: '/v1/jobs',
      summary: 'Enqueue a job; answers 202 at once with its address',
      scope: 'jobs:write',
      body: enqueueBodySchema,
      responses: {
        202: {
          description: 'Accepted: the job is durably queued. `Location` is its address.',
          schema: jobViewSchema,
        },
        200: {
          description:
            'A replay: the job first created with this `Idempotency-Key` (in any state), or the unfinished job holding this `uniqueKey`',
          schema: jobViewSchema,
        },
        409: problem('The `Idempotency-Key` was used for a different task or payload'),
        400: problem('The body is invalid'),
        422: problem(
          "Unknown task, the payload fails the task schema, the task's key function gives it no flow key, or `meta` or `tags` is invalid (ERR_INVALID_META)",
        ),
      },
      async handler({ body, headers, reply }) {
        const idempotencyKey = parseRequestPart(
          idempotencyKeySchema,
          headers['idempotency-key'],
          'headers',
        );
        const { job, created } = await api.queue.enqueueWithResult(
          body.task,
          body.payload ?? null,
          enqueueOptions(body, idempotencyKey),
        );
        reply.code(created ? 202 : 200).header('location', `/v1/jobs/${job.id}`);
        if (!FINISHED_STATES.includes(job.state))
          reply.header('retry-after', String(api.retryAfterSeconds));
        return toJobView(job);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/batch',
      summary: 'Enqueue up to 1000 jobs at once: all or none',
      scope: 'jobs:write',
      body: enqueueBatchBodySchema,
      responses: {
        202: { description: 'Accepted: every job is durably queued', schema: jobBatchSchema },
        400: problem('The body is invalid'),
        422: problem(
          'A task is unknown, a payload fails its schema, a key function gives it no flow key, or a `meta` or `tags` is invalid (ERR_INVALID_META)',
        ),
      },
      async handler({ body, reply }) {
        const results = await api.queue.enqueueManyWithResult(
          body.jobs.map((item) => ({
            task: item.task,
            payload: item.payload ?? null,
            options: enqueueOptions(item, item.idempotencyKey),
          })),
        );
        reply.code(202).header('retry-after', String(api.retryAfterSeconds));
        return { jobs: results.map(({ job, created }) => ({ ...toJobView(job), created })) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs',
      summary: 'List jobs, newest first, with filters and cursor paging',
      scope: 'jobs:read',
      query: listJobsQuerySchema,
      responses: {
        200: {
          description: 'A page of jobs; pass nextCursor back as cursor',
          schema: jobListSchema,
        },
        400: problem('A filter is invalid'),
      },
      async handler({ query }) {
        const page = await api.store.jobList(query);
        return { jobs: page.jobs.map((job) => toJobView(job)), nextCursor: page.nextCursor };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id',
      summary: 'Read a job; with ?wait=30s, hold the answer until it ends or the wait runs out',
      scope: 'jobs:read',
      params: jobIdParamsSchema,
      query: getJobQuerySchema,
      responses: {
        200: {
          description: 'The job, finished or as it stands when the wait ran out',
          schema: jobViewSchema,
        },
        404: problem('No such job'),
      },
      async handler({ params, query, reply }) {
        let job = await find(params.id);
        if (query.wait !== undefined) {
          const gone = new AbortController();
          reply.raw.once('close', () => gone.abort());
          job = await api.watcher.waitForEnd(job, Math.min(query.wait, api.maxWaitMs), gone.signal);
        }
        if (!FINISHED_STATES.includes(job.state))
          reply.header('retry-after', String(api.retryAfterSeconds));
        return withDelivery(job);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/:id/events',
      summary:
        'Server-sent events: `state` on each change, `progress`, then `end` with the finished job',
      scope: 'jobs:read',
      params: jobIdParamsSchema,
      responses: {
        200: { description: 'An event stream', contentType: 'text/event-stream' },
        404: problem('No such job'),
      },
      async handler({ params, reply }) {
        const job = await find(params.id);
        const stream = new EventStream(reply);
        stream.send('state', toJobView(job));
        if (FINISHED_STATES.includes(job.state)) {
          stream.send('end', toJobView(job));
          stream.end();
          return;
        }
        const stop = api.watcher.watch(job.id, job, (change) => {
          if (change.kind === 'progress') {
            stream.send('progress', { id: change.job.id, progress: change.job.progress });
            return;
          }
          stream.send('state', toJobView(change.job));
          if (FINISHED_STATES.includes(change.job.state)) {
            void withDelivery(change.job).then((view) => {
              stream.send('end', view);
              stream.end();
            });
          }
        });
        await stream.closed;
        stop();
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/v1/jobs/:id',
      summary: 'Change the run-at, priority or payload of a job that has not started',
      scope: 'jobs:write',
      params: jobIdParamsSchema,
      body: jobUpdateBodySchema,
      invalidBody: { status: 422, code: 'ERR_INVALID_OPTION' },
      responses: {
        200: { description: 'The job as it now stands', schema: jobViewSchema },
        404: problem('No such job'),
        409: problem(
          'The job is claimed, running or has ended (`ERR_JOB_STATE`); nothing was changed',
        ),
        413: problem('The payload is larger than the server accepts'),
        422: problem('The body is invalid, or the payload fails the task schema'),
      },
      async handler({ params, body }) {
        return toJobView(await api.queue.update(params.id, jobChanges(body)));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/jobs/:id',
      summary: 'Delete a job that has not started or has ended',
      scope: 'jobs:write',
      params: jobIdParamsSchema,
      responses: {
        200: { description: 'The job as it was before it was deleted', schema: jobViewSchema },
        404: problem('No such job'),
        409: problem('The job is claimed or running (`ERR_JOB_STATE`): cancel it first'),
      },
      async handler({ params }) {
        return toJobView(await api.queue.remove(params.id));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/:id/cancel',
      summary: 'Cancel a scheduled, queued or running job',
      scope: 'jobs:write',
      params: jobIdParamsSchema,
      responses: {
        200: { description: 'The cancelled job', schema: jobViewSchema },
        404: problem('No such job'),
        409: problem('The job has already finished'),
      },
      async handler({ params }) {
        return toJobView(await api.queue.cancel(params.id));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/:id/retry',
      summary: 'Queue a failed or cancelled job again with a fresh attempt budget',
      scope: 'jobs:write',
      params: jobIdParamsSchema,
      responses: {
        200: { description: 'The queued job', schema: jobViewSchema },
        404: problem('No such job'),
        409: problem('The job is not failed or cancelled'),
      },
      async handler({ params }) {
        return toJobView(await api.queue.retry(params.id));
      },
    }),
  ];
}

function enqueueOptions(body: EnqueueBody, idempotencyKey: string | undefined): EnqueueOptions {
  const options: EnqueueOptions = {};
  if (body.queue !== undefined) options.queue = body.queue;
  if (body.priority !== undefined) options.priority = body.priority;
  if (body.delay !== undefined) options.delay = body.delay;
  if (body.runAt !== undefined)
    options.runAt = typeof body.runAt === 'number' ? body.runAt : Date.parse(body.runAt);
  if (body.uniqueKey !== undefined) options.uniqueKey = body.uniqueKey;
  if (body.attempts !== undefined) options.attempts = body.attempts;
  if (body.timeout !== undefined) options.timeout = body.timeout;
  if (body.callbackUrl !== undefined) options.callbackUrl = body.callbackUrl;
  if (body.key !== undefined) options.key = body.key;
  if (body.meta !== undefined) options.meta = body.meta as Record<string, unknown>;
  if (body.tags !== undefined) options.tags = body.tags as string[];
  if (idempotencyKey !== undefined) options.idempotencyKey = idempotencyKey;
  return options;
}

function jobChanges(body: JobUpdateBody): JobChanges {
  const changes: JobChanges = {};
  if (body.runAt !== undefined)
    changes.runAt = typeof body.runAt === 'number' ? body.runAt : Date.parse(body.runAt);
  if (body.delay !== undefined) changes.delay = body.delay;
  if (body.priority !== undefined) changes.priority = body.priority;
  if ('payload' in body) changes.payload = body.payload ?? null;
  return changes;
}
