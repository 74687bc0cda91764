import { z } from 'zod';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { parseQueueLimits, type QueueLimitsInput } from '../core/flow-limits.ts';
import { JOB_STATES, type Job, type JobState } from '../core/job.ts';
import { encodeMeta, parseTags, tagFilterSchema } from '../core/job-meta.ts';
import { flowKeyProblem } from '../core/flow-limits.ts';
import { describe, optionSchemas, parseOptions } from '../core/options.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, encodePayload } from '../core/payload.ts';
import { validateWithSchema } from '../core/schema.ts';
import type {
  BulkRecord,
  DeadLetterGroup,
  DeadLetterParams,
  EnqueueParams,
  EnqueueResult,
  JobFilter,
  JobListParams,
  JobUpdateParams,
  LimitsState,
  QueueInfo,
  Store,
  TaskInfo,
} from '../store/contract.ts';
import type { Task, TaskPayload, TaskResult } from '../task/task.ts';
import type { TaskMap, TaskSet } from '../task/task-registry.ts';
import { parseJobChanges, type JobChanges } from './job-update.ts';
import { TaskRegistry } from '../task/task-registry.ts';
import type { BulkOptions, ParsedBulk } from './bulk-options.ts';
import type { BulkHandle, BulkRunner } from './bulk-runner.ts';
import type { EnqueueMiddlewareContext, EnqueueMiddleware } from './enqueue-middleware.ts';
import { JobWaits, waitResult } from './job-waits.ts';

/** Per-job choices at enqueue; each defaults to the task's own setting. */
export interface EnqueueOptions {
  /** Queue to put the job in. Default: the task's queue. */
  queue?: string;
  /** Higher runs first, from -1 000 000 to 1 000 000. Default: the task's priority. */
  priority?: number;
  /** Milliseconds to wait before the job may run, up to 100 years (3 155 760 000 000). Default 0. */
  delay?: number;
  /** Earliest start, as a Date or epoch milliseconds, from 1970 through 9999-12-31. Overrides `delay`. */
  runAt?: Date | number;
  /**
   * 1-500 characters, without U+0000. While a job with this key is queued, scheduled or running,
   * enqueue returns that job instead.
   */
  uniqueKey?: string;
  /** Runs before failing for good, 1 to 1000. Default: the task's attempts. */
  attempts?: number;
  /** Milliseconds one run may take, at most 2^31-1 (about 24.8 days; 0: no limit). Default: the task's timeout. */
  timeout?: number;
  /**
   * An absolute http:// or https:// URL of at most 2048 characters. When the job ends (succeeded, failed for good or
   * cancelled), its outcome is POSTed there, signed, by a delivery job of its own. See docs/webhooks.md.
   */
  callbackUrl?: string;
  /**
   * 1-255 characters, without U+0000. Enqueueing again with this key returns the job first made with it, in any
   * state, for as long as that job is kept (retention frees the key); the same key with another
   * task or payload throws ERR_IDEMPOTENCY_CONFLICT. Unlike `uniqueKey`, it guards against a
   * request sent twice, not against two jobs running at once.
   */
  idempotencyKey?: string;
  /**
   * The flow key (a tenant, an account; 1-500 characters, without U+0000) its queue's per-key
   * limits, rate limits and fair rotation go by (docs/flow-control.md). Default: the task's key
   * function (`concurrency.key` or `rateLimit.key`) on the payload, else none.
   */
  key?: string;
  /**
   * Small facts about the job (a trace context, a tenant, a request id): a JSON object of at most
   * 8 KiB of JSON (`MAX_META_BYTES`), returned as `job.meta` wherever the job is read (the store,
   * the HTTP API, the worker's claim). Default `{}`. A value that is no object, not JSON or too big
   * throws ERR_INVALID_META and nothing is stored.
   */
  meta?: Record<string, unknown>;
  /**
   * Short labels to find the job by (`listJobs({ tag })`, `GET /v1/jobs?tag=`, bulk actions): at
   * most 20 distinct strings of 1-64 characters without control characters; duplicates are dropped.
   * Default `[]`. Anything else throws ERR_INVALID_META and nothing is stored.
   */
  tags?: readonly string[];
  /**
   * Your own database client, to enqueue inside your transaction: the job exists if and only if
   * that transaction commits. PostgreSQL store only: a `pg` Client or PoolClient after `BEGIN`.
   * Default: the store's own connection. See docs/postgres.md.
   */
  client?: unknown;
}

const enqueueOptionsSchema = z.object({
  queue: optionSchemas.name.optional(),
  priority: optionSchemas.priority.optional(),
  delay: optionSchemas.delayMs.optional(),
  runAt: z
    .union([z.date().transform((date) => date.getTime()), z.number()], {
      message: 'must be a Date or epoch milliseconds',
    })
    .pipe(optionSchemas.runAtMs)
    .optional(),
  uniqueKey: optionSchemas.uniqueKey.optional(),
  attempts: optionSchemas.attempts.optional(),
  timeout: optionSchemas.timerMs.optional(),
  callbackUrl: optionSchemas.callbackUrl.optional(),
  idempotencyKey: optionSchemas.idempotencyKey.optional(),
  key: z
    .unknown()
    .superRefine((key, ctx) => {
      const problem = flowKeyProblem(key);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform((key) => key as string)
    .optional(),
  meta: z.unknown().optional(),
  tags: z.unknown().optional(),
  client: z.unknown().optional(),
});

const jobFilterSchema = z.object({
  queue: optionSchemas.name.optional(),
  state: z
    .enum(JOB_STATES as [JobState, ...JobState[]], {
      message: `must be one of ${JOB_STATES.join(', ')}`,
    })
    .optional(),
  task: optionSchemas.name.optional(),
  tag: tagFilterSchema.optional(),
});

const jobListSchema = jobFilterSchema.extend({
  limit: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be 1-1000')
    .max(1000, 'must be 1-1000')
    .optional(),
  cursor: z.string().nullable().optional(),
});

const deadLetterSchema = z.object({
  queue: optionSchemas.name.optional(),
  task: optionSchemas.name.optional(),
  limit: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be 1-1000')
    .max(1000, 'must be 1-1000')
    .optional(),
});

/** Options of {@link Queue.wait}. */
export interface WaitOptions {
  /**
   * Give up after this many milliseconds with ERR_WAIT_TIMEOUT (the job goes on), 0 to 2^31-1; 0
   * looks once without waiting. Default: no limit.
   */
  timeout?: number;
  /** Gives the wait up with ERR_WAIT_ABORTED when it aborts (the job goes on). Default none. */
  signal?: AbortSignal;
}

/**
 * Options of {@link Queue.run}: those of `enqueue` (`timeout` is the job's run timeout, as there),
 * and of the wait.
 */
export interface RunOptions extends EnqueueOptions {
  /** Give up waiting after this many milliseconds with ERR_WAIT_TIMEOUT. Default: no limit. */
  waitTimeout?: number;
  /** Gives the wait up with ERR_WAIT_ABORTED (the job goes on). Default none. */
  signal?: AbortSignal;
}

const waitOptionsSchema = z.object({
  timeout: optionSchemas.timerMs.optional(),
  signal: z
    .custom<AbortSignal>((value) => value instanceof AbortSignal, 'must be an AbortSignal')
    .optional(),
});

/** The job type of a task: its payload and result. */
type JobOf<T> = Job<TaskPayload<T>, TaskResult<T>>;
/** Names enqueue takes without a handle or a type argument: any, unless the queue knows its tasks by name. */
type UntypedName<M extends TaskMap> = [keyof M] extends [never] ? Task : never;

export interface QueueOptions<M extends TaskMap = Record<never, never>> {
  /** Where jobs live (createSqliteStore, createPostgresStore). Required. */
  store: Store;
  /**
   * Task handles this queue knows: their schemas are checked at enqueue. A {@link TaskSet} from
   * `defineTasks` also types `enqueue('name', payload)` by name. Default none.
   */
  tasks?: readonly Task[] | TaskSet<M>;
  /** Largest payload as JSON, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Functions `(ctx, next) => …` around every enqueue (`enqueue`, `enqueueWithResult`, `run`, and
   * `enqueueMany` once per job), the first outermost. `ctx` ({@link EnqueueMiddlewareContext}) has the task,
   * queue, payload and options, and the job's `meta` and `tags` to change before `await next()`
   * stores the job and resolves with it. A throw before `next()` stores nothing and rejects with
   * ERR_MIDDLEWARE; returning without calling `next()`, or calling it twice, rejects with
   * ERR_MIDDLEWARE_NEXT. See docs/observability.md. Default none (and no cost).
   */
  middleware?: readonly EnqueueMiddleware[];
}

const queueOptionsSchema = z.object({
  store: z.custom<Store>(
    (value) => typeof (value as Store)?.jobEnqueue === 'function',
    'must be a store (createSqliteStore())',
  ),
  tasks: z.array(z.unknown()).optional(),
  maxPayloadBytes: optionSchemas.positiveInt.default(DEFAULT_MAX_PAYLOAD_BYTES),
  middleware: optionSchemas.middleware.optional(),
});

type TaskDefaults = Pick<
  Task,
  'name' | 'queue' | 'priority' | 'attempts' | 'timeout' | 'schema' | 'key'
>;

/** A job from an enqueue, and whether it was made by this call (false: an idempotency or unique key matched). */
export interface EnqueueWithResult<J = Job> {
  job: J;
  created: boolean;
}

/** One job of a bulk enqueue. */
export type EnqueueManyItem = { task: Task | string; payload: unknown; options?: EnqueueOptions };

/**
 * The producer side: put jobs on queues and look after them. Talks only to the store, so it works
 * the same in a web server, a script or the CLI.
 */
export class Queue<M extends TaskMap = Record<never, never>> {
  readonly store: Store;
  readonly #tasks: TaskRegistry;
  readonly #maxPayloadBytes: number;
  /** Made on the first bulk action: producers that never run one never load it. */
  #bulk: BulkRunner | undefined;
  /** The handle last added to #tasks: a bulk enqueue of one task checks it once. */
  #lastTask: Task | undefined;
  /** Undefined when there is none: an enqueue without middleware makes no context and no closure. */
  readonly #middleware: readonly EnqueueMiddleware[] | undefined;
  /** Loaded on the first enqueue through middleware: queues without any never load it. */
  #middlewareModule: Promise<typeof import('./enqueue-middleware.ts')> | undefined;

  constructor(options: QueueOptions<M>) {
    const parsed = parseOptions('createQueue', queueOptionsSchema, options);
    this.store = parsed.store;
    this.#tasks = new TaskRegistry((options.tasks ?? []) as Task[]);
    this.#maxPayloadBytes = parsed.maxPayloadBytes;
    this.#middleware = options.middleware?.length ? [...options.middleware] : undefined;
  }

  #withMiddleware(): Promise<typeof import('./enqueue-middleware.ts')> {
    return (this.#middlewareModule ??= import('./enqueue-middleware.ts'));
  }

  /**
   * Durably adds one job and resolves once it is committed. A task handle types the payload and
   * the result, and so does a name: one of a {@link TaskSet} the queue was made with, or any name
   * with the task's type (`enqueue<typeof resize>('resize', …)`, as `offload/client` takes it).
   * A name is checked at run time against tasks known to this queue or registered in the store by
   * a worker. A queue made with a TaskSet refuses other names unless given a type or a handle.
   */
  async enqueue<T extends Task>(
    task: T,
    payload: TaskPayload<T>,
    options?: EnqueueOptions,
  ): Promise<JobOf<T>>;
  async enqueue<N extends keyof M & string>(
    task: N,
    payload: TaskPayload<M[N]>,
    options?: EnqueueOptions,
  ): Promise<JobOf<M[N]>>;
  async enqueue<T extends Task = UntypedName<M>>(
    task: string,
    payload: TaskPayload<T>,
    options?: EnqueueOptions,
  ): Promise<JobOf<T>>;
  async enqueue(task: Task | string, payload: unknown, options: EnqueueOptions = {}): Promise<Job> {
    return (await this.#enqueueOne(task, payload, options)).job;
  }

  /**
   * Like {@link enqueue}, and also says whether the job is new: `created` is false when an
   * idempotency key or unique key matched an existing job, which is returned instead.
   */
  async enqueueWithResult<T extends Task>(
    task: T,
    payload: TaskPayload<T>,
    options?: EnqueueOptions,
  ): Promise<EnqueueWithResult<Job<TaskPayload<T>, TaskResult<T>>>>;
  async enqueueWithResult(
    task: string,
    payload: unknown,
    options?: EnqueueOptions,
  ): Promise<EnqueueWithResult<Job>>;
  async enqueueWithResult(
    task: Task | string,
    payload: unknown,
    options: EnqueueOptions = {},
  ): Promise<EnqueueWithResult<Job>> {
    return this.#enqueueOne(task, payload, options);
  }

  /**
   * Reaches the store without an await when there is nothing to wait for, so enqueues started
   * together commit together. `resolved` (the task, as the middleware's innermost step passes it)
   * skips the task's lookup and the middleware: a queue without middleware pays one test for it.
   */
  async #enqueueOne(
    task: Task | string,
    payload: unknown,
    options: EnqueueOptions,
    resolved?: TaskDefaults,
  ): Promise<EnqueueWithResult<Job>> {
    const defaults =
      resolved ??
      this.#resolveTask(
        task,
        typeof task === 'string' && !this.#tasks.has(task) ? await this.store.taskList() : [],
      );
    if (this.#middleware && !resolved)
      return this.#enqueueThrough(this.#middleware, defaults, payload, options);
    if (defaults.schema)
      payload = await validateWithSchema(defaults.schema, payload, defaults.name);
    const params = this.#build(defaults, payload, options);
    const { job, created } = await this.store.jobEnqueue(
      params,
      options.client === undefined ? undefined : { client: options.client },
    );
    return { job, created };
  }

  /** One enqueue inside the queue's middleware, the job stored by its innermost step. */
  async #enqueueThrough(
    middleware: readonly EnqueueMiddleware[],
    defaults: TaskDefaults,
    payload: unknown,
    options: EnqueueOptions,
  ): Promise<EnqueueWithResult<Job>> {
    const { enqueueContext, enqueueThrough } = await this.#withMiddleware();
    const queue = typeof options.queue === 'string' ? options.queue : defaults.queue;
    const ctx = enqueueContext(defaults.name, queue, payload, options);
    return enqueueThrough(middleware, ctx, (changed) =>
      this.#enqueueOne(defaults.name, payload, changed, defaults),
    );
  }

  /**
   * Adds many jobs in one transaction: all are committed or none. Returns them in input order.
   * `options.client` joins your own transaction instead (see {@link EnqueueOptions.client}).
   */
  async enqueueMany(
    items: readonly EnqueueManyItem[],
    options: { client?: unknown } = {},
  ): Promise<Job[]> {
    return (await this.#enqueueMany(items, options)).map((result) => result.job);
  }

  /** Like {@link enqueueMany}, with `created` per item (false when a key matched an existing job). */
  async enqueueManyWithResult(
    items: readonly EnqueueManyItem[],
    options: { client?: unknown } = {},
  ): Promise<Array<EnqueueWithResult<Job>>> {
    return (await this.#enqueueMany(items, options)).map(({ job, created }) => ({ job, created }));
  }

  async #enqueueMany(
    items: readonly EnqueueManyItem[],
    options: { client?: unknown },
  ): Promise<EnqueueResult[]> {
    if (!Array.isArray(items)) {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        'enqueueMany: expected an array of { task, payload, options }',
      );
    }
    const stored = items.some((item) => typeof item.task === 'string')
      ? await this.store.taskList()
      : [];
    const context = options.client === undefined ? undefined : { client: options.client };
    if (this.#middleware) return this.#enqueueManyThrough(this.#middleware, items, stored, context);
    const params = new Array<EnqueueParams>(items.length);
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      try {
        const defaults = this.#resolveTask(item.task, stored);
        const payload = defaults.schema
          ? await validateWithSchema(defaults.schema, item.payload, defaults.name)
          : item.payload;
        params[index] = this.#build(defaults, payload, item.options ?? {});
      } catch (error) {
        throw itemError(error, index);
      }
    }
    return this.store.jobEnqueueMany(params, context);
  }

  /** {@link enqueueMany} with middleware around each job; all are stored in one transaction. */
  async #enqueueManyThrough(
    middleware: readonly EnqueueMiddleware[],
    items: readonly EnqueueManyItem[],
    stored: TaskInfo[],
    context: { client: unknown } | undefined,
  ): Promise<EnqueueResult[]> {
    const { enqueueContext, enqueueManyThrough, optionsOf } = await this.#withMiddleware();
    const defaults: TaskDefaults[] = [];
    const contexts: EnqueueMiddlewareContext[] = [];
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!;
      const options = item.options ?? {};
      try {
        defaults[index] = this.#resolveTask(item.task, stored);
      } catch (error) {
        throw itemError(error, index);
      }
      const { name, queue } = defaults[index]!;
      const asked = typeof options.queue === 'string' ? options.queue : queue;
      contexts[index] = enqueueContext(name, asked, item.payload, options);
    }
    return enqueueManyThrough(
      middleware,
      contexts,
      async (ctx, index) => {
        const task = defaults[index]!;
        const payload = task.schema
          ? await validateWithSchema(task.schema, ctx.payload, task.name)
          : ctx.payload;
        return this.#build(task, payload, optionsOf(ctx));
      },
      (params) => this.store.jobEnqueueMany(params, context),
    );
  }

  /**
   * Resolves with the job's result once it has succeeded, however it runs and wherever (another
   * process, another machine on PostgreSQL), at once when it already has. Rejects with an
   * OffloadError: ERR_JOB_FAILED (the task's error as `cause` and `details.error`) when it failed
   * for good, ERR_JOB_CANCELLED, ERR_WAIT_TIMEOUT after `timeout`, ERR_WAIT_ABORTED when `signal`
   * aborts, ERR_JOB_NOT_FOUND for an unknown id, ERR_INVALID_OPTION for bad options. Giving a
   * wait up leaves the job alone. All waits on a store share one set of listeners (no poll per
   * wait); see docs/queue.md.
   */
  async wait<P, R>(job: Job<P, R>, options?: WaitOptions): Promise<R>;
  async wait<T extends Task = Task>(id: string, options?: WaitOptions): Promise<TaskResult<T>>;
  async wait(job: Job | string, options: WaitOptions = {}): Promise<unknown> {
    const id = jobId('wait', job);
    const { timeout, signal } = parseOptions('wait', waitOptionsSchema, options);
    const end = await JobWaits.of(this.store).until(id, { timeoutMs: timeout, signal });
    return waitResult(id, end, timeout);
  }

  /**
   * Enqueues a job and waits for it: {@link enqueue} then {@link wait}, resolving with the result.
   * `waitTimeout` and `signal` bound the wait; every other option is enqueue's.
   */
  async run<T extends Task>(
    task: T,
    payload: TaskPayload<T>,
    options?: RunOptions,
  ): Promise<TaskResult<T>>;
  async run<N extends keyof M & string>(
    task: N,
    payload: TaskPayload<M[N]>,
    options?: RunOptions,
  ): Promise<TaskResult<M[N]>>;
  async run<T extends Task = UntypedName<M>>(
    task: string,
    payload: TaskPayload<T>,
    options?: RunOptions,
  ): Promise<TaskResult<T>>;
  async run(task: Task | string, payload: unknown, options: RunOptions = {}): Promise<unknown> {
    const { waitTimeout, signal, ...enqueueOptions } = options;
    const wait = parseOptions('run', waitOptionsSchema, { timeout: waitTimeout, signal });
    const { job } = await this.#enqueueOne(task, payload, enqueueOptions);
    return this.wait(job, wait);
  }

  async getJob(id: string): Promise<Job | undefined> {
    return this.store.jobGet({ id: String(id) });
  }

  /** Jobs newest first, `limit` (1-1000, default 50) at a time; pass `nextCursor` back as `cursor`. */
  async listJobs(params: JobListParams = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    return this.store.jobList(parseOptions('listJobs', jobListSchema, params));
  }

  async countJobs(filter: JobFilter = {}): Promise<Record<JobState, number>> {
    return this.store.jobCount(parseOptions('countJobs', jobFilterSchema, filter));
  }

  /** Cancels a scheduled, queued or running job; a running task's `ctx.signal` aborts. */
  cancel(id: string): Promise<Job> {
    return this.store.jobCancel({ id: String(id) });
  }

  /** Queues a failed or cancelled job again with a fresh attempt budget. */
  retry(id: string): Promise<Job> {
    return this.store.jobRetry({ id: String(id) });
  }

  /**
   * Retries, cancels or deletes every job a filter matches (see {@link BulkOptions}), in chunks of
   * 1 000 jobs, one store transaction each, so a million matching jobs never hold the store for
   * long. Resolves once the action is recorded (its progress readable by any process through
   * {@link getBulk}), with a handle whose `done` resolves when the last chunk is written. Throws
   * ERR_BULK_FILTER_EMPTY for a filter that matches every job without `all: true`, and
   * ERR_INVALID_OPTION naming a bad field; nothing is changed then.
   */
  async bulk(options: BulkOptions): Promise<BulkHandle> {
    const { action, filter } = await this.#parseBulk('bulk', options);
    const record = await this.store.jobBulkCreate({ action, filter });
    return (await this.#runner()).run(record.id);
  }

  /** How many jobs a bulk action would change now, checked as {@link bulk} checks it, changing nothing. */
  async countBulk(options: BulkOptions): Promise<number> {
    const { action, filter } = await this.#parseBulk('countBulk', options);
    return this.store.jobBulkCount({ action, filter });
  }

  /** A bulk action's progress as stored, from whichever process runs it; undefined when unknown. */
  getBulk(id: string): Promise<BulkRecord | undefined> {
    return this.store.jobBulkGet({ id: String(id) });
  }

  /**
   * Takes up the bulk actions left running in the store (by a process that stopped or died): each
   * resumes from its cursor once the lease of its last runner has run out. Returns their handles.
   */
  async resumeBulk(): Promise<BulkHandle[]> {
    const running = await this.store.jobBulkList({ state: 'running' });
    if (running.length === 0) return [];
    const runner = await this.#runner();
    return running.map((record) => runner.run(record.id));
  }

  /** Stops this queue's bulk runs after their current chunk; each stays resumable ({@link resumeBulk}). */
  async stopBulk(): Promise<void> {
    await this.#bulk?.stop();
  }

  async #parseBulk(label: string, options: BulkOptions): Promise<ParsedBulk> {
    const { parseBulk } = await import('./bulk-options.ts');
    return parseBulk(label, options, this.store.clock.now());
  }

  async #runner(): Promise<BulkRunner> {
    if (this.#bulk) return this.#bulk;
    const { BulkRunner } = await import('./bulk-runner.ts');
    return (this.#bulk ??= new BulkRunner(this.store));
  }

  /**
   * The dead-letter view: jobs that failed for good, grouped by task and error (its code, or its
   * message when it has none), with counts and first and last failure, largest group first.
   */
  async deadLetters(params: DeadLetterParams = {}): Promise<DeadLetterGroup[]> {
    return this.store.jobDeadLetters(parseOptions('deadLetters', deadLetterSchema, params));
  }

  /** Retries every job of a dead-letter group (a bulk retry by its filter), each with a fresh attempt budget. */
  async redrive(group: Pick<DeadLetterGroup, 'filter'>): Promise<BulkHandle> {
    return this.bulk({ action: 'retry', filter: { ...group.filter } });
  }

  /**
   * Changes a job that has not started (scheduled or queued): its `runAt` (or `delay` from now),
   * `priority` or `payload`. A payload is checked like one at enqueue: against the schema of the
   * job's task when this queue knows its handle, and for size. The job keeps its id, attempts and
   * flow key. A job that is claimed, running or ended throws ERR_JOB_STATE (HTTP 409) and is not
   * changed, also when a worker claims it while this runs; an unknown id throws ERR_JOB_NOT_FOUND.
   * A new run-at wakes idle workers. Resolves with the job as it now stands.
   */
  async update<T extends Task = Task>(
    id: string,
    changes: JobChanges<TaskPayload<T>>,
  ): Promise<Job<TaskPayload<T>, TaskResult<T>>>;
  async update(id: string, changes: JobChanges): Promise<Job> {
    const parsed = parseJobChanges(changes, this.store.clock.now());
    const params: JobUpdateParams = { id: String(id) };
    if (parsed.runAt !== undefined) params.runAt = parsed.runAt;
    if (parsed.priority !== undefined) params.priority = parsed.priority;
    if ('payload' in parsed) params.payload = await this.#payloadOf(params.id, parsed.payload);
    return this.store.jobUpdate(params);
  }

  /**
   * Deletes a job that has not started (scheduled, queued) or has ended (succeeded, failed,
   * cancelled), and resolves with the job as it was. A claimed or running job throws ERR_JOB_STATE
   * (cancel it first); an unknown id throws ERR_JOB_NOT_FOUND. Its id is never reused.
   */
  remove(id: string): Promise<Job> {
    return this.store.jobRemove({ id: String(id) });
  }

  /** A new payload of job `id` as JSON, checked as enqueue checks one for the job's task. */
  async #payloadOf(id: string, payload: unknown): Promise<string> {
    const job = await this.store.jobGet({ id });
    if (!job)
      throw new OffloadError(ErrorCodes.JOB_NOT_FOUND, `no job with id ${id}`, { details: { id } });
    const task = this.#tasks.has(job.task) ? this.#tasks.get(job.task) : undefined;
    if (task?.schema) payload = await validateWithSchema(task.schema, payload, job.task);
    return encodePayload(payload, job.task, this.#maxPayloadBytes);
  }

  pause(queue: string): Promise<void> {
    return this.store.queuePause({ name: optionSchemas.name.parse(queue) });
  }

  resume(queue: string): Promise<void> {
    return this.store.queueResume({ name: optionSchemas.name.parse(queue) });
  }

  listQueues(): Promise<QueueInfo[]> {
    return this.store.queueList();
  }

  /**
   * Sets a queue's flow control at runtime, for every worker on the store (docs/flow-control.md):
   * the limits replace those its tasks declare, whole, until cleared with `null`, after which the
   * declared ones apply again. `per` takes milliseconds or a duration (`'1s'`, `'5m'`). Throws
   * ERR_INVALID_OPTION naming the field, and stores nothing, when a limit is out of range. Jobs
   * already running count toward a lower limit; none is stopped. Resolves with the queue's flow
   * control as it now stands, undefined when it has none left.
   */
  async setLimits(
    queue: string,
    limits: QueueLimitsInput | null,
  ): Promise<LimitsState | undefined> {
    const name = queueName('setLimits', queue);
    const parsed = limits === null ? null : parseQueueLimits('setLimits', limits);
    await this.store.limitsSet({ queue: name, layer: 'runtime', limits: parsed });
    return this.store.limitsGet({ queue: name });
  }

  /** A queue's flow control (both layers, the one that applies) and its live state; undefined when it has none. */
  async getLimits(queue: string): Promise<LimitsState | undefined> {
    return this.store.limitsGet({ queue: queueName('getLimits', queue) });
  }

  /** Every queue with flow control, by name, each with its live state. */
  listLimits(): Promise<LimitsState[]> {
    return this.store.limitsList();
  }

  #build(defaults: TaskDefaults, payload: unknown, options: EnqueueOptions): EnqueueParams {
    const opts = isEmpty(options)
      ? options
      : parseOptions('enqueue', enqueueOptionsSchema, options);
    const now = this.store.clock.now();
    const runAt = opts.runAt === undefined ? now + (opts.delay ?? 0) : Number(opts.runAt);
    return {
      task: defaults.name,
      queue: opts.queue ?? defaults.queue,
      payload: encodePayload(payload, defaults.name, this.#maxPayloadBytes),
      priority: opts.priority ?? defaults.priority,
      runAt,
      maxAttempts: opts.attempts ?? defaults.attempts,
      timeoutMs: opts.timeout ?? defaults.timeout,
      uniqueKey: opts.uniqueKey ?? null,
      idempotencyKey: opts.idempotencyKey ?? null,
      callbackUrl: opts.callbackUrl ?? null,
      key: opts.key ?? flowKeyOf(defaults, payload),
      meta: opts.meta === undefined ? null : encodeMeta(opts.meta, 'enqueue'),
      tags: opts.tags === undefined ? null : parseTags(opts.tags, 'enqueue'),
    };
  }

  #resolveTask(task: Task | string, stored: TaskInfo[]): TaskDefaults {
    if (typeof task !== 'string') {
      if (task !== this.#lastTask) this.#tasks.add(task);
      this.#lastTask = task;
      return task;
    }
    if (this.#tasks.has(task)) return this.#tasks.get(task);
    const info = stored.find((candidate) => candidate.name === task);
    if (info) return { ...info, schema: undefined, key: undefined };
    const known = [
      ...new Set([...this.#tasks.list().map((t) => t.name), ...stored.map((t) => t.name)]),
    ];
    throw new OffloadError(
      ErrorCodes.TASK_NOT_FOUND,
      `no task named "${task}"` +
        (known.length
          ? `; known tasks: ${known.join(', ')}`
          : '; no worker has registered tasks in this store yet (start one with --tasks, or pass the task module)'),
      { details: { task } },
    );
  }
}

/** The key the task's key function gives the payload; ERR_INVALID_KEY when it throws or gives no usable key. */
function flowKeyOf(task: TaskDefaults, payload: unknown): string | null {
  if (!task.key) return null;
  let key: unknown;
  try {
    key = task.key(payload);
  } catch (error) {
    throw new OffloadError(
      ErrorCodes.INVALID_KEY,
      `task "${task.name}": its key function threw: ${error instanceof Error ? error.message : String(error)}. Nothing was stored; fix the function, or pass \`key\` with the enqueue`,
      { cause: error, details: { task: task.name } },
    );
  }
  const problem = flowKeyProblem(key);
  if (problem === undefined) return key as string;
  throw new OffloadError(
    ErrorCodes.INVALID_KEY,
    `task "${task.name}": its key function returned ${describeKey(key)}; a flow key ${problem}. Nothing was stored`,
    {
      details: {
        task: task.name,
        returned: describeKey(key),
      },
    },
  );
}

function describeKey(key: unknown): string {
  if (key === undefined) return 'undefined';
  if (key instanceof Promise) return 'a Promise (key functions must return the key at once)';
  if (typeof key !== 'string') return describe(key);
  if (key === '') return 'an empty string';
  return key.length > 60 ? `a string of ${key.length} characters` : JSON.stringify(key);
}

/** The id of a job or an id, or ERR_INVALID_OPTION naming `label`. */
function jobId(label: string, job: unknown): string {
  if (typeof job === 'string' && job !== '') return job;
  if (typeof job === 'object' && job !== null && typeof (job as Job).id === 'string')
    return (job as Job).id;
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `${label}: expected a job or a job id (a non-empty string), got ${describe(job)}`,
    { details: { label, option: 'job' } },
  );
}

/** A queue name, or ERR_INVALID_OPTION naming `label`. */
function queueName(label: string, queue: unknown): string {
  const parsed = optionSchemas.name.safeParse(queue);
  if (parsed.success) return parsed.data;
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `${label}: queue ${typeof queue === 'string' ? `"${queue}"` : String(queue)} ${parsed.error.issues[0]!.message}`,
    { details: { label, option: 'queue' } },
  );
}

/** An error of item `index` of enqueueMany, its message saying which item. */
function itemError(error: unknown, index: number): unknown {
  if (!(error instanceof OffloadError)) return error;
  return new OffloadError(error.code, `enqueueMany: item ${index}: ${error.message}`, {
    details: { ...error.details, index },
  });
}

function isEmpty(options: object): boolean {
  for (const _ in options) return false;
  return true;
}

/** Creates the producer side over a store. See {@link QueueOptions}. */
export function createQueue<M extends TaskMap = Record<never, never>>(
  options: QueueOptions<M>,
): Queue<M> {
  return new Queue<M>(options);
}
