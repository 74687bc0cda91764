import type { JobState } from '../core/job.ts';
import type { QueueLimits } from '../store/contract.ts';

/** The error recorded on a failed run, as the API shows it. */
export interface ApiJobError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** The attempt (from 1) that raised it. */
  attempt: number;
}

/** One failed attempt in a job's failure history. */
export interface ApiJobAttemptError {
  attempt: number;
  /** When it failed, ISO 8601. */
  at: string;
  name: string;
  /** Cut at 1 000 characters. */
  message: string;
  code?: string;
}

/**
 * A job as the HTTP API shows it (`GET /v1/jobs/{id}`): times are ISO 8601 strings. `Payload` and
 * `Result` come from the task type given to the client's methods, `unknown` without one.
 */
export interface ApiJob<Payload = unknown, Result = unknown> {
  id: string;
  task: string;
  queue: string;
  state: JobState;
  priority: number;
  /** Runs started so far. */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  uniqueKey: string | null;
  /** The flow key its queue's per-key limits go by, or null. */
  key: string | null;
  payload: Payload;
  progress: unknown;
  /** Set once the job has succeeded. */
  result: Result | null;
  error: ApiJobError | null;
  /** Every failed attempt, oldest first (the last 20), each with when it failed (ISO 8601); no stacks. */
  errors: ApiJobAttemptError[];
  /** `host:pid:id` of the worker holding it, while `claimed` or `running`. */
  worker: string | null;
  /** Where the last run ran and why (`thread: auto: …`); null before a run records it. */
  placement: string | null;
  /** The last 4 KiB a process-mode run wrote to stdout and stderr; null in other modes. */
  outputTail: string | null;
  /** The meta set at enqueue; `{}` when none. */
  meta: Record<string, unknown>;
  /** The tags set at enqueue; `[]` when none. */
  tags: string[];
  idempotencyKey: string | null;
  /** Where the outcome is POSTed, signed, when the job ends. */
  callbackUrl: string | null;
  /** The delivery of the outcome to `callbackUrl` once the job ended (`GET /v1/jobs/{id}` only; null in lists). */
  webhook: {
    id: string;
    state: JobState;
    attempts: number;
    maxAttempts: number;
    lastError: string | null;
    link: string;
  } | null;
  runAt: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  links: { self: string; events: string; cancel: string; retry: string };
}

/** One event of `GET /v1/jobs/{id}/events`: `state` on each change, `progress`, then `end` once. */
export type JobStreamEvent<Payload = unknown, Result = unknown> =
  | { event: 'state'; data: ApiJob<Payload, Result> }
  | { event: 'progress'; data: { id: string; progress: unknown } }
  | { event: 'end'; data: ApiJob<Payload, Result> };

/** A page of `GET /v1/jobs`, newest first; pass `nextCursor` back as `cursor` for the next one. */
export interface ApiJobPage {
  jobs: ApiJob[];
  nextCursor: string | null;
}

/** A queue with its job counts by state and its flow control (`GET /v1/queues`). */
export interface ApiQueue {
  name: string;
  paused: boolean;
  counts: Record<JobState, number>;
  /** Its limits and what they hold back now; null when it has none. */
  limits: ApiLimits | null;
}

/** A rate window as the API shows it: `per` in milliseconds; nextAt an ISO 8601 time. */
export interface ApiTokens {
  /** Starts the window allows now. */
  left: number;
  /** When the next start frees; null when one is free now. */
  nextAt: string | null;
}

/**
 * A queue's flow control (`GET /v1/queues/{name}/limits`), across every worker on the store:
 * both layers, the one that applies, and what it holds back now. Times are ISO 8601 strings.
 */
export interface ApiLimits {
  queue: string;
  /** What applies: the runtime layer when set, else the declared one. */
  limits: QueueLimits;
  /** What the queue's task modules declare. */
  declared: QueueLimits | null;
  /** Set with `setLimits` (PUT); replaces the declared layer whole while set. */
  runtime: QueueLimits | null;
  /** Jobs of the queue holding a slot (running or claimed). */
  running: number;
  /** The queue-wide rate window; null without `rate`. */
  tokens: ApiTokens | null;
  /** Until when a task's `ctx.rateLimited` holds the whole queue, or null. */
  heldUntil: string | null;
  /** Due jobs waiting while a limit holds them back. */
  heldBack: number;
  /** The busiest keys, most running first (at most 20). */
  keys: Array<{
    key: string;
    running: number;
    /** Its concurrency limit (an override or `keyConcurrency`; 1 under strict order), or null. */
    limit: number | null;
    tokens: ApiTokens | null;
    heldUntil: string | null;
  }>;
}

/** A task the server or one of its workers knows (`GET /v1/tasks`). */
export interface ApiTask {
  name: string;
  queue: string;
  mode: string;
  attempts: number;
  priority: number;
  timeout: number;
  /** JSON Schema of the payload, when the server can describe it; otherwise null. */
  payloadSchema: unknown;
  example: unknown;
}

/** A worker heard from in the last 10 minutes (`GET /v1/workers`); times are ISO 8601 strings. */
export interface ApiWorker {
  /** `host:pid:id`, as on the jobs it leases. */
  id: string;
  host: string;
  pid: number;
  modes: string[];
  queues: string[];
  /** Jobs it was running at its last heartbeat. */
  running: number;
  startedAt: string;
  lastHeartbeat: string;
  /** False once it has missed three heartbeats. */
  alive: boolean;
}

/** `GET /healthz`. */
export interface ApiHealth {
  status: 'ok' | 'degraded';
  store: string;
  uptimeSeconds: number;
}

/** Which jobs a bulk action takes (`POST /v1/jobs/bulk`); every field given must match. */
export interface ApiBulkFilter {
  queue?: string;
  task?: string;
  /** A state the action applies to. Default: every state it applies to. */
  state?: JobState;
  /** Only jobs carrying this tag. */
  tag?: string;
  /** The code of the job's last error; null: an error without a code. */
  errorCode?: string | null;
  /** The message of the job's last error, whole. */
  errorMessage?: string;
  /** Only jobs created before this time: ISO 8601 or epoch milliseconds. */
  createdBefore?: string | number;
  /** Only jobs created longer ago than this: milliseconds or a duration such as `1h`. */
  olderThan?: number | string;
}

/** A bulk action and its progress (`GET /v1/jobs/bulk/{id}`); times are ISO 8601. */
export interface ApiBulk {
  id: string;
  action: 'retry' | 'cancel' | 'delete';
  /** As stored: an age is kept as `createdBefore` in epoch milliseconds. */
  filter: ApiBulkFilter;
  state: 'running' | 'done' | 'interrupted';
  /** Jobs that matched when it began. */
  matched: number;
  /** Jobs changed so far. */
  done: number;
  /** Jobs reached but left alone (their state moved on, or their unique key is held). */
  skipped: number;
  /** Why it was interrupted, or null. */
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  links: { self: string };
}

/** Jobs of one task that failed for good with one error (`GET /v1/dead-letters`). */
export interface ApiDeadLetter {
  task: string;
  errorCode: string | null;
  /** The group's message (groups without a code), else the newest job's. */
  errorMessage: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  lastJobId: string;
  /** The filter of a bulk retry that redrives the group. */
  filter: ApiBulkFilter;
}
