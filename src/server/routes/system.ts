import { z } from 'zod';
import type { JobEvent, StoreEvents } from '../../store/contract.ts';
import type { ApiContext } from '../api-context.ts';
import type { ServerMetrics } from '../metrics.ts';
import { defineRoute, type RouteSpec } from '../route.ts';
import { loadLastResult } from '../../bench/last-result.ts';
import { renderSwitchSvg } from '../../bench/svg-chart.ts';
import { HttpProblem } from '../problem.ts';
import { healthSchema, modesSchema, problemSchema } from '../schemas.ts';
import { EventStream } from '../sse.ts';

const eventsQuerySchema = z.strictObject({ queue: z.string().min(1).max(200).optional() });

/** Health, metrics, the OpenAPI document and the stream of every job event. */
export function systemRoutes(
  api: ApiContext,
  metrics: ServerMetrics,
  openApi: () => Record<string, unknown>,
): RouteSpec[] {
  const startedAt = performance.now();
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness and store reachability (no token needed)',
      scope: null,
      responses: {
        200: { description: 'Serving', schema: healthSchema },
        503: { description: 'The store does not answer', schema: healthSchema },
      },
      async handler({ reply }) {
        const uptimeSeconds = Math.round((performance.now() - startedAt) / 1000);
        try {
          await api.store.jobGet({ id: '0' });
          return { status: 'ok', store: api.store.description, uptimeSeconds };
        } catch {
          reply.code(503);
          return { status: 'degraded', store: api.store.description, uptimeSeconds };
        }
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/metrics',
      summary:
        'Prometheus metrics: jobs by state, finished jobs, run and wait time histograms, pool use',
      scope: 'jobs:read',
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
      async handler({ reply }) {
        const { contentType, body } = await metrics.render();
        reply.type(contentType);
        return body;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/modes',
      summary:
        'What switching between coroutines, threads and processes costs on this machine, as `offload bench switch` last measured it',
      scope: 'jobs:read',
      responses: {
        200: {
          description:
            'The saved result (rows with medians in nanoseconds), or no rows when nothing was measured yet',
          schema: modesSchema,
        },
      },
      async handler() {
        const result = api.dataDir ? loadLastResult(api.dataDir) : undefined;
        if (!result) return { measuredAt: null, machine: null, rows: [] };
        return {
          measuredAt: result.startedAt,
          machine: result.machine,
          rows: result.rows,
          chart: '/v1/modes/chart.svg',
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/modes/chart.svg',
      summary: 'The last `offload bench switch` result as a chart (log scale, grouped by mode)',
      scope: 'jobs:read',
      responses: {
        200: { description: 'An SVG image', contentType: 'image/svg+xml' },
        404: {
          description: 'Nothing measured yet',
          schema: problemSchema,
          contentType: 'application/problem+json',
        },
      },
      async handler({ reply }) {
        const result = api.dataDir ? loadLastResult(api.dataDir) : undefined;
        if (!result)
          throw new HttpProblem(
            404,
            'ERR_NOT_MEASURED',
            'nothing measured yet: run `offload bench switch` on this machine',
          );
        reply.type('image/svg+xml');
        return renderSwitchSvg(result);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/openapi.json',
      summary: 'This document',
      scope: null,
      responses: { 200: { description: 'OpenAPI 3.1' } },
      async handler() {
        return openApi();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/events',
      summary:
        'Server-sent events of every job (`job` events), and `changed` hints when another process changed the store',
      scope: 'jobs:read',
      query: eventsQuerySchema,
      responses: { 200: { description: 'An event stream', contentType: 'text/event-stream' } },
      async handler({ query, reply }) {
        const stream = new EventStream(reply);
        const unsubscribe: Array<() => void> = [];
        const names = [
          'job:enqueued',
          'job:started',
          'job:progress',
          'job:succeeded',
          'job:retrying',
          'job:failed',
          'job:cancelled',
          'job:updated',
          'job:removed',
        ] as const;
        for (const name of names) {
          unsubscribe.push(
            api.store.on(name, (event: StoreEvents[typeof name]) => {
              if (query.queue === undefined || (event as JobEvent).queue === query.queue)
                stream.send('job', { type: name, at: Date.now(), ...event });
            }),
          );
        }
        let hinted = false;
        unsubscribe.push(
          api.store.on('store:changed', () => {
            if (hinted) return;
            hinted = true;
            setTimeout(() => {
              hinted = false;
              stream.send('changed', {});
            }, 250).unref();
          }),
        );
        await stream.closed;
        for (const stop of unsubscribe) stop();
      },
    }),
  ];
}
