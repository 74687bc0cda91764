import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { runMiddleware, type Middleware } from '../core/middleware.ts';
import type { EnqueueResult } from '../store/contract.ts';
import type { EnqueueOptions } from './queue.ts';

/**
 * What an enqueue middleware sees of one job before it is stored. `meta` and `tags` are the job's
 * own, to change in place or replace before `next()` (a tenant, a traceparent); they are checked
 * as enqueue checks them (ERR_INVALID_META) when `next()` stores the job.
 */
export interface EnqueueMiddlewareContext {
  /** The task's name. */
  readonly task: string;
  /** The queue the job goes to, as asked (`options.queue`, else the task's queue). */
  readonly queue: string;
  /** The payload, before the task's schema checks it. */
  readonly payload: unknown;
  /** The enqueue's options, as given. */
  readonly options: Readonly<EnqueueOptions>;
  /** The job's meta: `options.meta` copied, `{}` when none. */
  meta: Record<string, unknown>;
  /** The job's tags: `options.tags` copied, `[]` when none. */
  tags: string[];
}

/**
 * A middleware around enqueue (`createQueue({ middleware })`): `await next()` stores the job and
 * resolves with it. Throwing before `next()` stores nothing and rejects the enqueue with
 * ERR_MIDDLEWARE.
 */
export type EnqueueMiddleware = Middleware<EnqueueMiddlewareContext, Job>;

/** The context of one job, its meta and tags copied so a middleware's changes are its own. */
export function enqueueContext(
  task: string,
  queue: string,
  payload: unknown,
  options: EnqueueOptions,
): EnqueueMiddlewareContext {
  const { meta, tags } = options;
  return {
    task,
    queue,
    payload,
    options,
    // Not an object or not an array: left as given, so next() refuses it with ERR_INVALID_META.
    meta: isPlainObject(meta) ? { ...meta } : ((meta ?? {}) as Record<string, unknown>),
    tags: Array.isArray(tags) ? [...(tags as string[])] : ((tags ?? []) as string[]),
  };
}

/**
 * The enqueue's options with the meta and tags the middleware left on `ctx`; the options as given
 * when it left none, so an enqueue without options keeps its fast path (no options check).
 */
export function optionsOf(ctx: EnqueueMiddlewareContext): EnqueueOptions {
  const { options, meta, tags } = ctx;
  const noMeta = options.meta === undefined && isPlainObject(meta) && isEmptyObject(meta);
  const noTags = options.tags === undefined && Array.isArray(tags) && tags.length === 0;
  if (noMeta && noTags) return options;
  return { ...options, ...(noMeta ? {} : { meta }), ...(noTags ? {} : { tags }) };
}

/** One enqueue through the middleware: `store` runs as the innermost step. */
export async function enqueueThrough(
  middleware: readonly EnqueueMiddleware[],
  ctx: EnqueueMiddlewareContext,
  store: (options: EnqueueOptions) => Promise<EnqueueResult>,
): Promise<EnqueueResult> {
  let created = false;
  const job = await runMiddleware(
    middleware,
    ctx,
    async () => {
      const result = await store(optionsOf(ctx));
      created = result.created;
      return result.job;
    },
    'enqueue',
  );
  return { job, created };
}

/**
 * A bulk enqueue through the middleware, once per job: every job's chain runs to its `next()`,
 * then all are stored in one transaction (`commit`) and each `next()` resolves with its job. When
 * one chain fails before its `next()` (or its job is refused), nothing is stored: the other
 * chains' `next()` reject, and the first failure, by item, is thrown with its index.
 */
export async function enqueueManyThrough<P>(
  middleware: readonly EnqueueMiddleware[],
  contexts: readonly EnqueueMiddlewareContext[],
  build: (ctx: EnqueueMiddlewareContext, index: number) => Promise<P>,
  commit: (params: P[]) => Promise<EnqueueResult[]>,
): Promise<EnqueueResult[]> {
  if (contexts.length === 0) return commit([]);
  const params = new Array<P>(contexts.length);
  let arrived = 0;
  let commitError: unknown;
  let release!: (results: EnqueueResult[]) => void;
  let abort!: (error: Error) => void;
  const gate = new Promise<EnqueueResult[]>((resolve, reject) => {
    release = resolve;
    abort = reject;
  });
  gate.catch(() => undefined);
  const aborted = new OffloadError(
    ErrorCodes.MIDDLEWARE,
    'enqueueMany: another job of this call failed before it was stored; nothing was stored',
  );
  const runs = contexts.map((ctx, index) =>
    runMiddleware(
      middleware,
      ctx,
      async () => {
        params[index] = await build(ctx, index);
        if (++arrived === contexts.length)
          commit(params).then(release, (error: Error) => abort((commitError = error)));
        return (await gate)[index]!.job;
      },
      'enqueue',
    ).catch((error: unknown) => {
      abort(aborted);
      throw error;
    }),
  );
  const settled = await Promise.allSettled(runs);
  const failure = settled.findIndex(
    (result) => result.status === 'rejected' && result.reason !== aborted,
  );
  if (failure >= 0 && commitError !== undefined) throw commitError;
  if (failure >= 0) throw itemError((settled[failure] as PromiseRejectedResult).reason, failure);
  const stored = await gate;
  return stored.map((result, index) => ({
    job: (settled[index] as PromiseFulfilledResult<Job>).value,
    created: result.created,
  }));
}

/** The error of item `index`, its message saying which item (as enqueueMany's own checks do). */
function itemError(error: unknown, index: number): unknown {
  if (!(error instanceof OffloadError)) return error;
  return new OffloadError(error.code, `enqueueMany: item ${index}: ${error.message}`, {
    cause: error.cause,
    details: { ...error.details, index },
  });
}

function isEmptyObject(value: object): boolean {
  for (const _ in value) return false;
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
