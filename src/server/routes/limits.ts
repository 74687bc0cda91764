import type { ApiContext } from '../api-context.ts';
import { toLimitsView } from '../limits-view.ts';
import { HttpProblem } from '../problem.ts';
import { defineRoute, type RouteSpec } from '../route.ts';
import {
  limitsStateSchema,
  problemSchema,
  queueLimitsBodySchema,
  queueNameParamsSchema,
} from '../schemas.ts';

const problem = (description: string) => ({
  description,
  schema: problemSchema,
  contentType: 'application/problem+json',
});

/**
 * A queue's flow control: read it, set its runtime layer, clear that layer so the declared limits
 * apply again. Changing limits is scoped `admin`, as pausing a queue is.
 */
export function limitsRoutes(api: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/queues/:name/limits',
      summary:
        "A queue's flow control (declared and runtime layers, the one that applies) and what it holds back now",
      scope: 'jobs:read',
      params: queueNameParamsSchema,
      responses: {
        200: { description: 'Its limits and their live state', schema: limitsStateSchema },
        400: problem('Bad queue name'),
        404: problem('The queue has no flow control'),
      },
      async handler({ params }) {
        const state = await api.queue.getLimits(params.name);
        if (!state) throw noLimits(params.name);
        return toLimitsView(state);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/queues/:name/limits',
      summary:
        "Set a queue's runtime limits for every worker: they replace the declared ones whole until deleted",
      scope: 'admin',
      params: queueNameParamsSchema,
      body: queueLimitsBodySchema,
      invalidBody: { status: 422, code: 'ERR_INVALID_OPTION' },
      responses: {
        200: { description: 'The limits as they now stand', schema: limitsStateSchema },
        400: problem('Bad queue name, or a body that is not JSON'),
        422: problem('A limit out of range or an unknown field, named in `errors`; nothing stored'),
      },
      async handler({ params, body }) {
        const state = await api.queue.setLimits(params.name, body);
        return toLimitsView(state!);
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/v1/queues/:name/limits',
      summary: "Clear a queue's runtime limits: the limits its tasks declare apply again",
      scope: 'admin',
      params: queueNameParamsSchema,
      responses: {
        204: { description: 'Cleared (also when there was nothing to clear)' },
        400: problem('Bad queue name'),
      },
      async handler({ params, reply }) {
        await api.queue.setLimits(params.name, null);
        reply.code(204);
        return reply.send();
      },
    }),
  ];
}

function noLimits(queue: string): HttpProblem {
  return new HttpProblem(
    404,
    'ERR_LIMITS_NOT_FOUND',
    `queue ${queue} has no flow control: set some with PUT /v1/queues/${queue}/limits or declare them on its tasks`,
  );
}
