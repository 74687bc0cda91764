import { z } from 'zod';
import type { Task } from '../../task/task.ts';
import type { ApiContext } from '../api-context.ts';
import { defineRoute, type RouteSpec } from '../route.ts';
import { HEARTBEAT_MS } from '../../worker/worker-options.ts';
import { listQueuesWithLimits } from '../../queue/queue-limits.ts';
import { toLimitsView } from '../limits-view.ts';
import {
  problemSchema,
  queueListSchema,
  queueNameParamsSchema,
  taskListSchema,
  workerListSchema,
} from '../schemas.ts';

/** Queues with their counts and limits, pausing and resuming them, and the tasks this deployment knows. */
export function queueRoutes(api: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/queues',
      summary: 'Queues with their job counts by state and their flow control',
      scope: 'jobs:read',
      responses: {
        200: {
          description: 'Every queue that holds jobs, was paused or has limits',
          schema: queueListSchema,
        },
      },
      async handler() {
        const queues = await listQueuesWithLimits(api.store);
        return {
          queues: queues.map((queue) => ({
            ...queue,
            limits: queue.limits && toLimitsView(queue.limits),
          })),
        };
      },
    }),
    ...(['pause', 'resume'] as const).map((action) =>
      defineRoute({
        method: 'POST',
        url: `/v1/queues/:name/${action}`,
        summary:
          action === 'pause'
            ? 'Pause a queue: workers claim nothing from it until resumed (running jobs finish)'
            : 'Resume a paused queue',
        scope: 'admin',
        params: queueNameParamsSchema,
        responses: {
          200: {
            description: 'The queue as it now stands',
            schema: z.object({ name: z.string(), paused: z.boolean() }),
          },
          400: {
            description: 'Bad queue name',
            schema: problemSchema,
            contentType: 'application/problem+json',
          },
        },
        async handler({ params }) {
          await (action === 'pause' ? api.queue.pause(params.name) : api.queue.resume(params.name));
          return { name: params.name, paused: action === 'pause' };
        },
      }),
    ),
    defineRoute({
      method: 'GET',
      url: '/v1/workers',
      summary:
        'Workers heard from in the last 10 minutes: host, pid, modes, queues, running jobs, last heartbeat',
      scope: 'jobs:read',
      responses: {
        200: {
          description: 'Workers by id; `alive` is false once one has missed three heartbeats',
          schema: workerListSchema,
        },
      },
      async handler() {
        const now = api.store.clock.now();
        const workers = await api.store.workerList({ since: now - 10 * 60_000 });
        return {
          workers: workers.map((worker) => ({
            ...worker,
            startedAt: new Date(worker.startedAt).toISOString(),
            lastHeartbeat: new Date(worker.lastHeartbeat).toISOString(),
            alive: worker.lastHeartbeat >= now - 3 * HEARTBEAT_MS,
          })),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/tasks',
      summary: 'Registered tasks, with their payload schemas where known',
      scope: 'jobs:read',
      responses: {
        200: {
          description: 'Tasks of this server and of every worker that registered in the store',
          schema: taskListSchema,
        },
      },
      async handler() {
        const local = new Map(api.tasks.map((task) => [task.name, task]));
        const stored = await api.store.taskList();
        const names = [...new Set([...local.keys(), ...stored.map((t) => t.name)])].sort();
        return {
          tasks: names.map((name) => {
            const task = local.get(name);
            const info = task ?? stored.find((t) => t.name === name)!;
            return {
              name,
              queue: info.queue,
              mode: info.mode,
              attempts: info.attempts,
              priority: info.priority,
              timeout: info.timeout,
              payloadSchema: task ? payloadJsonSchema(task) : null,
              example: task?.example ?? null,
            };
          }),
        };
      },
    }),
  ];
}

const jsonSchemas = new WeakMap<Task, unknown>();

/** The JSON Schema of a task's payload when its schema is a zod schema (other libraries: null), made once per task. */
function payloadJsonSchema(task: Task): unknown {
  if (!jsonSchemas.has(task)) jsonSchemas.set(task, toJsonSchema(task));
  return jsonSchemas.get(task);
}

function toJsonSchema(task: Task): unknown {
  if (!(task.schema instanceof z.ZodType)) return null;
  try {
    return z.toJSONSchema(task.schema, { io: 'input', unrepresentable: 'any' });
  } catch {
    return null;
  }
}
