import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { FINISHED_STATES, type JobState } from '../core/job.ts';
import type { Task, TaskPayload, TaskResult } from '../task/task.ts';
import { checkClientOptions, type ClientOptions } from './client-options.ts';
import { problemFromResponse, ProblemError } from './problem-error.ts';
import type { QueueLimitsInput } from '../core/flow-limits.ts';
import type {
  ApiBulk,
  ApiBulkFilter,
  ApiDeadLetter,
  ApiHealth,
  ApiJob,
  ApiLimits,
  ApiJobPage,
  ApiQueue,
  ApiTask,
  JobStreamEvent,
} from './resources.ts';
import { readSse } from './sse.ts';

/** Per-call choices every method takes. */
export interface CallOptions {
  /** Aborts the request (and a running wait or stream). */
  signal?: AbortSignal;
}

/** Per-job choices of `enqueue`; each defaults to the task's own setting on the server. */
export interface ClientEnqueueOptions extends CallOptions {
  queue?: string;
  /** Higher runs first. */
  priority?: number;
  /** Wait before the job may run: milliseconds, or a duration such as `30s` or `5m`. Default none. */
  delay?: number | string;
  /** Earliest start: a Date, epoch milliseconds or an ISO 8601 string. Overrides `delay`. */
  runAt?: Date | number | string;
  /** While a job with this key is waiting or running, the server answers with that job instead. */
  uniqueKey?: string;
  /** Runs before the job fails for good. */
  attempts?: number;
  /** Longest one run may take: milliseconds, or a duration such as `2m`. */
  timeout?: number | string;
  /** The server POSTs the signed outcome here when the job ends. */
  callbackUrl?: string;
  /** The flow key (a tenant, an account) its queue's per-key limits go by. Default: the task's key function, when the server has the task. */
  key?: string;
  /** Small facts about the job (a trace context, a tenant): a JSON object of at most 8 KiB of JSON. Default `{}`. */
  meta?: Record<string, unknown>;
  /** Labels to find the job by (`listJobs({ tag })`): at most 20 strings of 1-64 characters. Default `[]`. */
  tags?: string[];
  /** Sent as `Idempotency-Key`: a retried request with the same key gets the first job back. */
  idempotencyKey?: string;
}

/** One job of `enqueueMany`. */
export interface ClientEnqueueItem<T extends Task = Task> {
  task: T | string;
  payload: TaskPayload<T>;
  options?: Omit<ClientEnqueueOptions, 'signal' | 'idempotencyKey'>;
}

/** What `update` changes on a job that has not started; absent fields are kept. */
export interface ClientJobChanges<Payload = unknown> {
  /** Earliest start: a Date, epoch milliseconds or an ISO 8601 string. Overrides `delay`. */
  runAt?: Date | number | string;
  /** Wait from now before the job may run: milliseconds, or a duration such as `30s` or `5m`. */
  delay?: number | string;
  /** Higher runs first. */
  priority?: number;
  /** The new payload (`null` is a payload). */
  payload?: Payload;
}

/** A job typed by its task: `JobOf<typeof resize>` has resize's payload and result types. */
export type JobOf<T extends Task> = ApiJob<TaskPayload<T>, TaskResult<T>>;

/** Filters and paging of `listJobs`. */
export interface ListJobsOptions extends CallOptions {
  queue?: string;
  state?: JobState;
  task?: string;
  /** Only jobs carrying this tag. */
  tag?: string;
  /** Jobs per page, 1–1000. Default: the server's (50). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** Options of `waitForJob`. */
export interface WaitOptions extends CallOptions {
  /** Give up (with `ERR_WAIT_TIMEOUT`) after this many milliseconds. Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Longest single long poll, in milliseconds (the server caps it, at 60 s by default). Default 30 000. */
  pollMs?: number;
}

const EVENT_NAMES = new Set(['state', 'progress', 'end']);
const MAX_POLL_MS = 60_000;

/**
 * A typed client of offload's HTTP API, on `fetch` alone: it runs in Node 20 and in browsers.
 * Every failure the server reports throws a {@link ProblemError}; a server that cannot be reached
 * throws an OffloadError `ERR_SERVER_UNREACHABLE`. See docs/client.md.
 */
export class OffloadClient {
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions) {
    const parsed = checkClientOptions(options);
    this.url = parsed.url.replace(/\/+$/, '');
    this.#fetch = parsed.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#headers = {
      ...parsed.headers,
      ...(parsed.token ? { authorization: `Bearer ${parsed.token}` } : {}),
    };
  }

  /**
   * Submits one job; resolves once the server has stored it durably (its 202). Typed by the task:
   * pass the handle (`enqueue(resize, …)`) or its type (`enqueue<typeof resize>('resize', …)`).
   */
  async enqueue<T extends Task = Task>(
    task: T | string,
    payload: TaskPayload<T>,
    options: ClientEnqueueOptions = {},
  ): Promise<JobOf<T>> {
    const { signal, idempotencyKey, ...rest } = options;
    const headers: Record<string, string> =
      idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey };
    return this.#json('POST', '/v1/jobs', {
      body: enqueueBody(task, payload, rest),
      headers,
      signal,
    });
  }

  /** Submits up to 1000 jobs in one request: all are stored or none. */
  async enqueueMany<T extends Task = Task>(
    items: ReadonlyArray<ClientEnqueueItem<T>>,
    options: CallOptions = {},
  ): Promise<Array<JobOf<T>>> {
    const jobs = items.map((item) => enqueueBody(item.task, item.payload, item.options ?? {}));
    const answer = await this.#json<{ jobs: Array<JobOf<T>> }>('POST', '/v1/jobs/batch', {
      body: { jobs },
      signal: options.signal,
    });
    return answer.jobs;
  }

  /** Reads a job. With `wait` (milliseconds or `30s`), the server holds the answer until the job ends or the wait runs out. */
  async getJob<T extends Task = Task>(
    id: string,
    options: CallOptions & { wait?: number | string } = {},
  ): Promise<JobOf<T>> {
    const wait =
      typeof options.wait === 'number'
        ? `${Math.max(0, Math.round(options.wait))}ms`
        : options.wait;
    return this.#json('GET', jobPath(id), { query: { wait }, signal: options.signal });
  }

  /**
   * Resolves with the job once it has ended (succeeded, failed or cancelled: check `state`), by
   * long polls of up to `pollMs` each. Rejects with `ERR_WAIT_TIMEOUT` after `timeoutMs`.
   */
  waitForJob<P, R>(job: ApiJob<P, R>, options?: WaitOptions): Promise<ApiJob<P, R>>;
  waitForJob<T extends Task = Task>(id: string, options?: WaitOptions): Promise<JobOf<T>>;
  async waitForJob(job: string | ApiJob, options: WaitOptions = {}): Promise<ApiJob> {
    const id = typeof job === 'string' ? job : job.id;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const pollMs = Math.min(options.pollMs ?? 30_000, MAX_POLL_MS);
    for (;;) {
      const asked = Math.max(0, Math.min(deadline - Date.now(), pollMs));
      const started = Date.now();
      const current = await this.getJob(id, { wait: asked, signal: options.signal });
      if (FINISHED_STATES.includes(current.state)) return current;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new OffloadError(
          ErrorCodes.WAIT_TIMEOUT,
          `job ${id} did not end within ${options.timeoutMs} ms (it is ${current.state}); wait again, or read it later with getJob()`,
          { details: { job: current } },
        );
      }
      // A server that answers long polls early (a proxy, a low maxWait) must not be hammered.
      if (Date.now() - started < asked / 2) await sleep(Math.min(1000, left), options.signal);
    }
  }

  /**
   * The job's server-sent events: `state` (now and on each change), `progress`, then `end` with the
   * finished job, after which iteration stops. Breaking out of the loop closes the stream. Read with
   * fetch, so the token travels in a header (EventSource cannot send one).
   */
  async *events<T extends Task = Task>(
    id: string,
    options: CallOptions = {},
  ): AsyncGenerator<JobStreamEvent<TaskPayload<T>, TaskResult<T>>> {
    const controller = new AbortController();
    const stop = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', stop, { once: true });
    if (options.signal?.aborted) stop();
    try {
      const response = await this.#send('GET', `${jobPath(id)}/events`, {
        signal: controller.signal,
        headers: { accept: 'text/event-stream' },
      });
      if (!response.body)
        throw new OffloadError(
          ErrorCodes.BAD_RESPONSE,
          `the server sent no body for the event stream of job ${id}`,
        );
      let cause: unknown;
      try {
        for await (const message of readSse(response.body)) {
          if (!EVENT_NAMES.has(message.event)) continue;
          const event = {
            event: message.event,
            data: parseJson(message.data, `an event of job ${id}`),
          } as JobStreamEvent<TaskPayload<T>, TaskResult<T>>;
          yield event;
          if (event.event === 'end') return;
        }
      } catch (error) {
        if (options.signal?.aborted || error instanceof OffloadError) throw error;
        cause = error;
      }
      const how = cause === undefined ? 'closed' : `broke (${describeFetchError(cause)})`;
      throw new OffloadError(
        ErrorCodes.BAD_RESPONSE,
        `the event stream of job ${id} ${how} before its end event; read the job with getJob() or call events() again`,
        { cause },
      );
    } finally {
      options.signal?.removeEventListener('abort', stop);
      controller.abort();
    }
  }

  /** A page of jobs, newest first. */
  async listJobs(options: ListJobsOptions = {}): Promise<ApiJobPage> {
    const { signal, limit, ...filters } = options;
    return this.#json('GET', '/v1/jobs', {
      query: { ...filters, limit: limit === undefined ? undefined : String(limit) },
      signal,
    });
  }

  /**
   * Changes a job that has not started: `runAt` (or `delay` from now), `priority` or `payload`
   * (checked against the task schema on the server). A job that is claimed, running or ended is a
   * 409 `ERR_JOB_STATE` and stays as it was; a bad change is a 422 naming the field.
   */
  async update<T extends Task = Task>(
    id: string,
    changes: ClientJobChanges<TaskPayload<T>>,
    options: CallOptions = {},
  ): Promise<JobOf<T>> {
    const { runAt, ...rest } = changes;
    const body = {
      ...rest,
      ...(runAt === undefined
        ? {}
        : { runAt: runAt instanceof Date ? runAt.toISOString() : runAt }),
    };
    return this.#json('PATCH', jobPath(id), { body, signal: options.signal });
  }

  /**
   * Deletes a job that has not started or has ended; resolves with the job as it was. A claimed or
   * running job is a 409 `ERR_JOB_STATE` (cancel it first).
   */
  async remove<T extends Task = Task>(id: string, options: CallOptions = {}): Promise<JobOf<T>> {
    return this.#json('DELETE', jobPath(id), { signal: options.signal });
  }

  /** Cancels a scheduled, queued or running job; a finished one is a 409 `ERR_JOB_STATE`. */
  async cancel<T extends Task = Task>(id: string, options: CallOptions = {}): Promise<JobOf<T>> {
    return this.#json('POST', `${jobPath(id)}/cancel`, { signal: options.signal });
  }

  /** Queues a failed or cancelled job again with a fresh attempt budget. */
  async retry<T extends Task = Task>(id: string, options: CallOptions = {}): Promise<JobOf<T>> {
    return this.#json('POST', `${jobPath(id)}/retry`, { signal: options.signal });
  }

  /** Every queue with its job counts by state. */
  async listQueues(options: CallOptions = {}): Promise<ApiQueue[]> {
    return (
      await this.#json<{ queues: ApiQueue[] }>('GET', '/v1/queues', { signal: options.signal })
    ).queues;
  }

  /** Stops workers claiming from a queue (running jobs finish). Needs the `admin` scope. */
  async pause(
    queue: string,
    options: CallOptions = {},
  ): Promise<{ name: string; paused: boolean }> {
    return this.#json('POST', `/v1/queues/${encodeURIComponent(queue)}/pause`, {
      signal: options.signal,
    });
  }

  /** Lets workers claim from a paused queue again. Needs the `admin` scope. */
  async resume(
    queue: string,
    options: CallOptions = {},
  ): Promise<{ name: string; paused: boolean }> {
    return this.#json('POST', `/v1/queues/${encodeURIComponent(queue)}/resume`, {
      signal: options.signal,
    });
  }

  /** A queue's flow control and what it holds back now; undefined when the queue has none. */
  async getLimits(queue: string, options: CallOptions = {}): Promise<ApiLimits | undefined> {
    try {
      return await this.#json('GET', limitsPath(queue), { signal: options.signal });
    } catch (error) {
      if (error instanceof ProblemError && error.code === 'ERR_LIMITS_NOT_FOUND') return undefined;
      throw error;
    }
  }

  /**
   * Sets a queue's runtime limits for every worker: they replace the declared ones whole until
   * {@link clearLimits}. `per` takes milliseconds or a duration (`'1s'`). A limit out of range is a
   * 422 `ERR_INVALID_OPTION` naming the field, and nothing is stored. Needs the `admin` scope.
   */
  async setLimits(
    queue: string,
    limits: QueueLimitsInput,
    options: CallOptions = {},
  ): Promise<ApiLimits> {
    return this.#json('PUT', limitsPath(queue), { body: limits, signal: options.signal });
  }

  /** Clears a queue's runtime limits: the ones its tasks declare apply again. Needs the `admin` scope. */
  async clearLimits(queue: string, options: CallOptions = {}): Promise<void> {
    await this.#send('DELETE', limitsPath(queue), { signal: options.signal });
  }

  /**
   * Retries, cancels or deletes every job `filter` matches, in chunks on the server; resolves with
   * its progress at once (the server's 202). Follow it with {@link getBulk} or {@link waitForBulk}.
   * A filter that matches every job is refused (422 `ERR_BULK_FILTER_EMPTY`) unless `all` is true.
   */
  async bulk(
    request: { action: ApiBulk['action']; filter?: ApiBulkFilter; all?: boolean },
    options: CallOptions = {},
  ): Promise<ApiBulk> {
    return this.#json('POST', '/v1/jobs/bulk', { body: request, signal: options.signal });
  }

  /** A bulk action's progress: matched, done, skipped and state. */
  async getBulk(id: string, options: CallOptions = {}): Promise<ApiBulk> {
    return this.#json('GET', bulkPath(id), { signal: options.signal });
  }

  /**
   * Resolves once a bulk action is no longer running (`done` or `interrupted`: check `state`),
   * reading it every `pollMs` (default 500). Rejects with `ERR_WAIT_TIMEOUT` after `timeoutMs`.
   */
  async waitForBulk(
    bulk: string | ApiBulk,
    options: CallOptions & { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<ApiBulk> {
    const id = typeof bulk === 'string' ? bulk : bulk.id;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const current = await this.getBulk(id, options);
      if (current.state !== 'running') return current;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new OffloadError(
          ErrorCodes.WAIT_TIMEOUT,
          `bulk action ${id} did not end within ${options.timeoutMs} ms (${current.done} of ${current.matched} done); wait again, or read it later with getBulk()`,
          { details: { bulk: current } },
        );
      await sleep(Math.min(options.pollMs ?? 500, left), options.signal);
    }
  }

  /** Jobs that failed for good, grouped by task and error, largest group first. */
  async deadLetters(
    options: CallOptions & { queue?: string; task?: string; limit?: number } = {},
  ): Promise<ApiDeadLetter[]> {
    const query = {
      queue: options.queue,
      task: options.task,
      limit: options.limit === undefined ? undefined : String(options.limit),
    };
    return (
      await this.#json<{ groups: ApiDeadLetter[] }>('GET', '/v1/dead-letters', {
        query,
        signal: options.signal,
      })
    ).groups;
  }

  /** Retries every job of a dead-letter group: a bulk retry by its filter. */
  async redrive(group: Pick<ApiDeadLetter, 'filter'>, options: CallOptions = {}): Promise<ApiBulk> {
    return this.bulk({ action: 'retry', filter: group.filter }, options);
  }

  /** Tasks the server and its workers know, with payload JSON Schemas where known. */
  async listTasks(options: CallOptions = {}): Promise<ApiTask[]> {
    return (await this.#json<{ tasks: ApiTask[] }>('GET', '/v1/tasks', { signal: options.signal }))
      .tasks;
  }

  /** `GET /healthz`: `status` is `degraded` (not an error) when the store does not answer. */
  async health(options: CallOptions = {}): Promise<ApiHealth> {
    const response = await this.#send('GET', '/healthz', { signal: options.signal, allow: [503] });
    return parseJson(await response.text(), 'GET /healthz') as ApiHealth;
  }

  async #json<T>(method: string, path: string, request: RequestParts = {}): Promise<T> {
    const response = await this.#send(method, path, request);
    return parseJson(await response.text(), `${method} ${path}`) as T;
  }

  async #send(method: string, path: string, request: RequestParts): Promise<Response> {
    const query = new URLSearchParams(
      Object.entries(request.query ?? {}).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      ),
    ).toString();
    const target = `${this.url}${path}${query ? `?${query}` : ''}`;
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.#headers,
      ...request.headers,
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.#fetch(target, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: request.signal,
      });
    } catch (error) {
      if (request.signal?.aborted) throw error;
      throw new OffloadError(
        ErrorCodes.SERVER_UNREACHABLE,
        `cannot reach the offload server at ${this.url} (${method} ${path}): ${describeFetchError(error)}; is it running, and is \`url\` right?`,
        { cause: error },
      );
    }
    if (!response.ok && !request.allow?.includes(response.status))
      throw await problemFromResponse(response);
    return response;
  }
}

interface RequestParts extends CallOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  /** Error statuses whose body is still the answer. */
  allow?: number[];
}

/** Creates a client of an offload server's HTTP API. See {@link ClientOptions}. */
export function createClient(options: ClientOptions): OffloadClient {
  return new OffloadClient(options);
}

function enqueueBody(
  task: Task | string,
  payload: unknown,
  options: Omit<ClientEnqueueOptions, 'signal' | 'idempotencyKey'>,
): Record<string, unknown> {
  const { runAt, ...rest } = options;
  return {
    task: typeof task === 'string' ? task : task.name,
    payload,
    ...rest,
    ...(runAt === undefined ? {} : { runAt: runAt instanceof Date ? runAt.toISOString() : runAt }),
  };
}

function limitsPath(queue: string): string {
  return `/v1/queues/${encodeURIComponent(queue)}/limits`;
}

function bulkPath(id: string): string {
  return `/v1/jobs/bulk/${encodeURIComponent(id)}`;
}

function jobPath(id: string): string {
  return `/v1/jobs/${encodeURIComponent(id)}`;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new OffloadError(
      ErrorCodes.BAD_RESPONSE,
      `the answer to ${what} is not JSON (${text.slice(0, 100)}); is the client's url an offload server?`,
    );
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const message = error instanceof Error ? error.message : String(error);
  return cause?.code ? `${message} (${cause.code})` : message;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
