import type { z } from 'zod';
import type { BulkFilterInput } from '../../queue/bulk-options.ts';
import type { BulkRecord, DeadLetterGroup } from '../../store/contract.ts';
import type { ApiContext } from '../api-context.ts';
import { HttpProblem } from '../problem.ts';
import { defineRoute, type RouteSpec } from '../route.ts';
import {
  bulkBodySchema,
  bulkIdParamsSchema,
  bulkViewSchema,
  deadLetterListSchema,
  deadLettersQuerySchema,
  problemSchema,
} from '../schemas.ts';

const problem = (description: string) => ({
  description,
  schema: problemSchema,
  contentType: 'application/problem+json',
});

/** Bulk retry, cancel and delete by filter, their progress, and the dead-letter view. */
export function bulkRoutes(api: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/jobs/bulk',
      summary:
        'Retry, cancel or delete every job a filter matches, in chunks; answers 202 at once with its progress',
      scope: 'jobs:write',
      body: bulkBodySchema,
      responses: {
        202: {
          description:
            'Accepted: the action is recorded and runs in chunks of 1 000 jobs. `Location` is its progress.',
          schema: bulkViewSchema,
        },
        400: problem('The body is invalid, or the state is not one the action applies to'),
        422: problem('The filter matches every job and `all` is not true (ERR_BULK_FILTER_EMPTY)'),
      },
      async handler({ body, reply }) {
        const handle = await api.queue.bulk({
          action: body.action,
          filter: bulkFilter(body.filter),
          all: body.all,
        });
        const record = await handle.progress();
        reply.code(202).header('location', selfLink(record.id)).header('retry-after', '1');
        return toBulkView(record);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/jobs/bulk/:id',
      summary: 'The progress of a bulk action: matched, done, skipped and state',
      scope: 'jobs:read',
      params: bulkIdParamsSchema,
      responses: {
        200: { description: 'The bulk action as stored now', schema: bulkViewSchema },
        404: problem('No such bulk action'),
      },
      async handler({ params, reply }) {
        const record = await api.queue.getBulk(params.id);
        if (!record)
          throw new HttpProblem(404, 'ERR_BULK_NOT_FOUND', `no bulk action has id ${params.id}`);
        if (record.state === 'running') reply.header('retry-after', '1');
        return toBulkView(record);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/dead-letters',
      summary:
        'Jobs that failed for good, grouped by task and error, largest group first; redrive a group with POST /v1/jobs/bulk',
      scope: 'jobs:read',
      query: deadLettersQuerySchema,
      responses: {
        200: { description: 'The groups', schema: deadLetterListSchema },
        400: problem('A filter is invalid'),
      },
      async handler({ query }) {
        return { groups: (await api.queue.deadLetters(query)).map(toDeadLetterView) };
      },
    }),
  ];
}

function bulkFilter(
  filter: z.output<typeof bulkBodySchema>['filter'],
): BulkFilterInput | undefined {
  if (filter === undefined) return undefined;
  const { createdBefore, ...rest } = filter;
  if (createdBefore === undefined) return rest;
  return {
    ...rest,
    createdBefore: typeof createdBefore === 'number' ? createdBefore : Date.parse(createdBefore),
  };
}

function selfLink(id: string): string {
  return `/v1/jobs/bulk/${id}`;
}

/** The API's view of a bulk action: ISO times and its link. */
export function toBulkView(record: BulkRecord) {
  return {
    ...record,
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
    finishedAt: record.finishedAt === null ? null : iso(record.finishedAt),
    links: { self: selfLink(record.id) },
  };
}

function toDeadLetterView(group: DeadLetterGroup) {
  return { ...group, firstSeen: iso(group.firstSeen), lastSeen: iso(group.lastSeen) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
