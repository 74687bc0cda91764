import { z } from 'zod';
import type { Logger } from 'pino';
import type { Backoff } from '../core/backoff.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';
import type { Store } from '../store/contract.ts';
import type { Task } from '../task/task.ts';
import type { PoolOptions } from '../pool/pool-options.ts';
import type { RunMiddleware } from './run-middleware.ts';

/** How often a worker tells the registry it is alive. */
export const HEARTBEAT_MS = 5000;
/** Jobs per queue running at once, unless the worker's options say otherwise. */
export const DEFAULT_CONCURRENCY = 100;
/** Finished jobs older than this are deleted, unless `retention.maxAge` says otherwise: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;
/** How often retention runs, unless `retention.interval` says otherwise: hourly. */
export const DEFAULT_RETENTION_INTERVAL_MS = 3600_000;

/** Options of {@link createWorker}; each states its default. */
export interface WorkerOptions {
  /** Where jobs live. Required. */
  store: Store;
  /** The tasks this worker runs. Required, at least one. It claims only jobs of these tasks. */
  tasks: readonly Task[];
  /**
   * Queues to serve and how many jobs of each may run at once in this worker. Default: every
   * queue named by a task, each with `concurrency`.
   */
  queues?: Record<string, { concurrency?: number }> | readonly string[];
  /**
   * Jobs per queue running at once, where `queues` does not say. Default 100: inline jobs are
   * cheap to hold, and bigger claims make short jobs fast. Jobs of `thread` and `process` tasks
   * are claimed only while their pool has room (see `pools`), whatever this number.
   */
  concurrency?: number;
  /** How long a claim stays valid without renewal (ms); renewed every third of it. Default 15 000. */
  leaseMs?: number;
  /** How often to requeue jobs whose worker died (ms). Recovery takes at most leaseMs + this. Default 5 000. */
  recoveryInterval?: number;
  /** Longest sleep between looks for work when no event arrives (ms). Default 1 000. */
  pollInterval?: number;
  /** On stop, how long running jobs may take to finish before their leases are released (ms). Default 10 000. */
  shutdownGrace?: number;
  /** Delete finished jobs older than `maxAge` ms, checking every `interval` ms; false keeps them. Default 7 days, hourly. */
  retention?: { maxAge?: number; interval?: number } | false;
  /** An inline task gives up the loop at `ctx.yield()` after holding it this long (ms). Default 10. */
  sliceMs?: number;
  /** Report inline tasks that block the event loop longer than this (ms); 0 turns it off. Default 100. */
  blockThreshold?: number;
  /** Largest result or progress value, as JSON bytes. Default 1 MiB. */
  maxResultBytes?: number;
  /**
   * A pino-compatible logger. Default: pino at level `warn` on stderr. Each run's end is logged at
   * `info`; every line about a job carries `job`, `task`, `queue`, `attempt` and, when the job has
   * one, `traceId` (docs/observability.md).
   */
  logger?: Logger;
  /** Identity recorded on leases. Default `host:pid:random`. */
  id?: string;
  /**
   * Path of the task module that `thread` and `process` tasks are loaded from in their threads and
   * processes. Default: the file each task was defined in (recorded by `defineTask`).
   */
  taskModule?: string;
  /**
   * Settings of the thread and process pools (see {@link PoolOptions}). Each mode has its own
   * capacity: at most `maxWorkers × tasksPerWorker` jobs of that mode run at once (default: the
   * number of CPUs, one job per thread or process), whatever the queue concurrency.
   */
  pools?: Partial<Record<'thread' | 'process', Omit<PoolOptions, 'mode' | 'module'>>>;
  /**
   * Signs webhook deliveries. When given, this worker also serves the built-in `offload.webhook`
   * task (inline, queue `offload.webhooks`, with `concurrency` unless `queues` says otherwise),
   * which POSTs the outcome of jobs enqueued with a `callbackUrl`. Use the store's generated secret
   * with `getWebhookSecret(store)`. Default: none, and this worker delivers no webhooks.
   */
  webhookSecret?: string;
  /** Delay before a failed webhook delivery is tried again. Default: 1 s doubling, capped at 1 h, with jitter. */
  webhookBackoff?: Backoff;
  /**
   * Functions `(ctx, next) => …` around each run, the first outermost, in this process whatever the
   * task's mode. `ctx` (`RunMiddlewareContext`) has the job (id, task, queue, payload, meta, tags), the
   * attempt, the mode and the worker's id; `await next()` runs the task and resolves with how the
   * run ended (`RunOutcome`). A middleware that throws, calls `next()` twice or never fails
   * the run with ERR_MIDDLEWARE or ERR_MIDDLEWARE_NEXT (an attempt spent, retried by the task's
   * policy), logged with its name. See docs/observability.md. Default none (and no cost).
   */
  middleware?: readonly RunMiddleware[];
}

const optionsSchema = z.object({
  store: z.custom<Store>(
    (value) => typeof (value as Store)?.jobClaim === 'function',
    'must be a store',
  ),
  tasks: z.array(z.unknown()).min(1, 'must list at least one task'),
  queues: z
    .union([
      z.array(optionSchemas.name),
      z.record(
        optionSchemas.name,
        z.object({ concurrency: optionSchemas.positiveInt.optional() }).strict(),
      ),
    ])
    .optional(),
  concurrency: optionSchemas.positiveInt.default(DEFAULT_CONCURRENCY),
  leaseMs: optionSchemas.intervalMs.min(1000, 'must be at least 1000 ms').default(15_000),
  recoveryInterval: optionSchemas.intervalMs.default(5_000),
  pollInterval: optionSchemas.intervalMs.default(1_000),
  shutdownGrace: optionSchemas.timerMs.default(10_000),
  retention: z
    .union([
      z.literal(false),
      z
        .object({
          maxAge: optionSchemas.milliseconds.optional(),
          interval: optionSchemas.intervalMs.optional(),
        })
        .strict(),
    ])
    .default({}),
  sliceMs: optionSchemas.intervalMs.default(10),
  blockThreshold: optionSchemas.timerMs.default(100),
  maxResultBytes: optionSchemas.positiveInt.default(DEFAULT_MAX_PAYLOAD_BYTES),
  logger: z
    .custom<Logger>(
      (value) => typeof (value as Logger)?.warn === 'function',
      'must be a pino-compatible logger',
    )
    .optional(),
  id: optionSchemas.storedText.optional(),
  taskModule: z.string().min(1).optional(),
  pools: z
    .object({
      thread: z.record(z.string(), z.unknown()).optional(),
      process: z.record(z.string(), z.unknown()).optional(),
    })
    .strict()
    .optional(),
  webhookSecret: z
    .string()
    .min(16, 'must be at least 16 characters (`offload webhook secret` prints a generated one)')
    .optional(),
  webhookBackoff: z.unknown().optional(),
  middleware: optionSchemas.middleware.optional(),
});

/** Worker options as validated, with every default applied. */
export type ParsedWorkerOptions = z.output<typeof optionsSchema>;

/**
 * Validates the options of {@link createWorker} and applies their defaults. Throws
 * ERR_INVALID_OPTION naming the option (and, for a misspelt one, what was meant).
 */
export function parseWorkerOptions(options: WorkerOptions): ParsedWorkerOptions {
  return parseOptions('createWorker', optionsSchema, options);
}

/** Jobs of each served queue that may run at once: from `queues`, else every queue a task names. */
export function resolveQueues(
  queues: WorkerOptions['queues'],
  tasks: readonly Task[],
  concurrency: number,
): Map<string, number> {
  if (queues === undefined) return new Map(tasks.map((task) => [task.queue, concurrency]));
  if (Array.isArray(queues)) return new Map(queues.map((name) => [name, concurrency]));
  return new Map(
    Object.entries(queues).map(([name, settings]) => [name, settings.concurrency ?? concurrency]),
  );
}
