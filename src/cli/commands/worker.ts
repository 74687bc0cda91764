import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DATABASE } from '../../store/open-store.ts';
import { serveMetrics, type MetricsServer } from '../../metrics/serve-metrics.ts';
import { createQueue } from '../../queue/queue.ts';
import type { Task } from '../../task/task.ts';
import { createServer, type OffloadServer } from '../../server/server.ts';
import type { Store } from '../../store/contract.ts';
import { createWorker, type Worker } from '../../worker/worker.ts';
import { getWebhookSecret } from '../../webhooks/secret.ts';
import { createContext, requireTasks, type CommandContext, type GlobalFlags } from '../context.ts';
import { intOption } from '../parse.ts';

interface WorkerFlags extends GlobalFlags {
  tasks?: string;
  concurrency?: number;
  demo?: boolean;
  host?: string;
  port?: number;
  metricsPort?: number;
  metricsHost?: string;
}

/** `offload start` (the HTTP API and a worker in one process) and `offload worker` (a worker only). */
export function registerWorkerCommands(program: Command, globals: () => GlobalFlags): void {
  for (const name of ['start', 'worker'] as const) {
    program
      .command(name)
      .description(
        name === 'start'
          ? 'serve the HTTP API and run a worker in one process, printing the API address, a token and each job as it runs'
          : 'run a worker only (for more processes or machines sharing one store)',
      )
      .option(
        '-t, --tasks <path>',
        'task module to load (a .ts or .js file exporting defineTask() results)',
      )
      .option(
        '-c, --concurrency <n>',
        'jobs per queue running at once',
        intOption('--concurrency', 1),
      )
      .option('--host <address>', 'start: address the HTTP API listens on (default 127.0.0.1)')
      .option(
        '-p, --port <n>',
        'start: port of the HTTP API (default 7070; 0 picks a free one)',
        intOption('--port', 0, 65535),
      )
      .option(
        '--metrics-port <n>',
        'serve Prometheus metrics at /metrics on this port, without the HTTP API (0 picks a free one)',
        intOption('--metrics-port', 0, 65535),
      )
      .option(
        '--metrics-host <address>',
        'address the --metrics-port endpoint listens on (default 127.0.0.1; it has no authentication)',
      )
      .option(
        '--demo',
        'also enqueue a sample job of each task every few seconds, to watch jobs flow',
      )
      .action(async (flags: WorkerFlags) =>
        runWorker(name, await createContext({ ...globals(), ...flags }), flags.demo === true),
      );
  }
}

async function runWorker(
  mode: 'start' | 'worker',
  context: CommandContext,
  demo: boolean,
): Promise<void> {
  const tasks = await requireTasks(context);
  const store = await context.openStore();
  const { config, logger } = context;
  const worker = createWorker({
    store,
    tasks,
    concurrency: config.concurrency,
    queues: config.queues,
    shutdownGrace: config.shutdownGrace,
    retention: config.retentionMs ? { maxAge: config.retentionMs } : undefined,
    logger,
    webhookSecret: config.webhookSecret ?? (await getWebhookSecret(store)),
  });
  let metrics: MetricsServer | undefined;
  let server: OffloadServer | undefined;
  try {
    metrics = await startMetrics(context, store, worker);
    server = mode === 'start' ? await startServer(context, store, tasks, worker) : undefined;
  } catch (error) {
    await metrics?.close();
    await store.close();
    throw error;
  }
  await worker.start();
  logger.info(
    { store: context.databaseLabel, tasks: tasks.map((t) => `${t.name} (${t.mode})`) },
    `offload ${mode}: data in ${context.databaseLabel}`,
  );
  if (server) logger.info(`enqueue from another terminal: ${enqueueHint(tasks, context)}`);
  const stopDemo = demo ? startDemo(tasks, context, store) : () => {};
  await untilSignal(async (signal) => {
    logger.info(
      { running: worker.running },
      `${signal}: finishing running jobs (send again to exit at once)`,
    );
    stopDemo();
    await server?.close();
    await metrics?.close();
    await worker.stop();
    await store.close();
  });
}

/** The `/metrics` endpoint of `--metrics-port`, when given: listening before the worker claims anything. */
async function startMetrics(
  context: CommandContext,
  store: Store,
  worker: Worker,
): Promise<MetricsServer | undefined> {
  const { metricsPort, metricsHost } = context.config;
  if (metricsPort === undefined) return undefined;
  const metrics = await serveMetrics({ store, worker, port: metricsPort, host: metricsHost });
  context.logger.info({ url: metrics.url }, `metrics: Prometheus endpoint on ${metrics.url}`);
  return metrics;
}

async function startServer(
  context: CommandContext,
  store: Store,
  tasks: Task[],
  worker: Worker,
): Promise<OffloadServer> {
  const { config, logger } = context;
  const server = createServer({
    store,
    tasks,
    worker,
    host: config.host,
    port: config.port,
    logger,
    dataDir: context.dataDir,
    corsOrigins: config.corsOrigins,
  });
  const url = await server.listen();
  logger.info({ url }, `offload start: HTTP API on ${url} (described at ${url}/v1/openapi.json)`);
  logger.info(`dashboard: ${server.loginLink()} (a one-time login link)`);
  logger.info(`session token (valid until this server stops): ${server.sessionToken}`);
  logger.info(`try: curl -s -H 'authorization: Bearer ${server.sessionToken}' ${url}/v1/queues`);
  return server;
}

function enqueueHint(tasks: Task[], context: CommandContext): string {
  const task = tasks.find((t) => t.example !== undefined) ?? tasks[0]!;
  const payload = JSON.stringify(task.example ?? {});
  const db = context.config.database === DEFAULT_DATABASE ? '' : ` --db ${context.databaseLabel}`;
  const inThisRepo = readPackageName(process.cwd()) === 'offload';
  return `${inThisRepo ? 'npm run offload --' : 'npx offload'} enqueue ${task.name} --payload '${payload}'${db}`;
}

function readPackageName(dir: string): string | undefined {
  try {
    return (
      JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }
    ).name;
  } catch {
    return undefined;
  }
}

function startDemo(
  tasks: Task[],
  context: CommandContext,
  store: Awaited<ReturnType<CommandContext['openStore']>>,
): () => void {
  const queue = createQueue({ store, tasks });
  const samples = tasks.filter((task) => task.example !== undefined);
  let n = 0;
  const timer = setInterval(() => {
    const task = samples[n++ % Math.max(1, samples.length)];
    if (!task) return;
    queue
      .enqueue(task, task.example)
      .catch((error: unknown) => context.logger.error({ err: error }, 'demo enqueue failed'));
  }, 2000);
  return () => clearInterval(timer);
}

/** Runs `onStop` at the first SIGINT/SIGTERM and exits; a second signal exits at once. */
function untilSignal(onStop: (signal: string) => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      onStop(signal).then(resolve, (error: unknown) => {
        console.error(error);
        process.exit(1);
      });
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
