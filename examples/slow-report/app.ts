/**
 * The slow-report web app: one slow endpoint offered two ways.
 * - `GET /report/inline?customer=acme` builds the report inside the request, on the event loop.
 * - `POST /report` puts a job on offload's queue and answers 202 with the job's address at once;
 *   a worker thread builds it, and `GET /report/{id}` tells how it stands.
 * `GET /health` answers at once when the loop is free: the canary for a blocked server.
 */
import os from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import { createQueue, createWorker, type Store, type Worker } from 'offload';
import { createSqliteStore } from 'offload/sqlite';
import { buildReport } from './report.ts';
import { report } from './tasks.ts';

export interface AppOptions {
  /** SQLite file of the queue. */
  database: string;
  /** Port to listen on (0 picks a free one). Default 3000. */
  port?: number;
  /** CPU cost of one report (see report.ts). Default 600 000, about a second. */
  rounds?: number;
}

export interface App {
  url: string;
  close(): Promise<void>;
}

export async function startApp(options: AppOptions): Promise<App> {
  const rounds = options.rounds ?? 600_000;
  const store = createSqliteStore({ path: options.database });
  const queue = createQueue({ store, tasks: [report] });
  // Leave one core to the web server; the others build reports.
  const threads = Math.max(1, os.availableParallelism() - 1);
  const worker = createWorker({
    store,
    tasks: [report],
    pools: { thread: { maxWorkers: threads } },
  });
  await worker.start();
  const app = routes(Fastify(), { queue, rounds });
  await app.listen({ host: '127.0.0.1', port: options.port ?? 3000 });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => closeAll(app, worker, store) };
}

function routes(
  app: FastifyInstance,
  { queue, rounds }: { queue: ReturnType<typeof createQueue>; rounds: number },
): FastifyInstance {
  app.get('/health', async () => ({ ok: true }));

  app.get<{ Querystring: { customer?: string } }>('/report/inline', async (request) =>
    buildReport({ customer: request.query.customer ?? 'acme', rounds }),
  );

  app.post<{ Body: { customer?: string } | undefined }>('/report', async (request, reply) => {
    const job = await queue.enqueue(report, { customer: request.body?.customer ?? 'acme', rounds });
    return reply
      .code(202)
      .header('location', `/report/${job.id}`)
      .send({ id: job.id, state: job.state, url: `/report/${job.id}` });
  });

  app.get<{ Params: { id: string } }>('/report/:id', async (request, reply) => {
    const job = await queue.getJob(request.params.id).catch(() => undefined);
    if (!job) return reply.code(404).send({ error: `no report job ${request.params.id}` });
    return { id: job.id, state: job.state, result: job.result, error: job.error?.message ?? null };
  });
  return app;
}

async function closeAll(app: FastifyInstance, worker: Worker, store: Store): Promise<void> {
  await app.close();
  await worker.stop();
  await store.close();
}
