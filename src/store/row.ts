import type { SerializedError } from '../core/errors.ts';
import {
  MAX_ERROR_MESSAGE,
  type ClaimedJob,
  type Job,
  type JobAttemptError,
  type JobState,
} from '../core/job.ts';
import type { EnqueueParams, JobEvent, WorkerRecord } from './contract.ts';

/** A job row as both stores return it (snake_case columns, JSON as text). */
export interface JobRow {
  id: number | string;
  queue: string;
  task: string;
  payload: string | unknown;
  state: string;
  priority: number;
  run_at: number | string;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  unique_key: string | null;
  /** '' marks an unkeyed job of a limited queue; it reads as null. */
  flow_key?: string | null;
  idempotency_key: string | null;
  callback_url: string | null;
  webhook_job_id: number | string | null;
  progress: string | unknown | null;
  result: string | unknown | null;
  error: string | unknown | null;
  /** JSON text (SQLite) or parsed JSON (PostgreSQL's jsonb). */
  errors?: string | unknown[] | null;
  fence?: number;
  lease_owner: string | null;
  lease_expires_at: number | string | null;
  created_at: number | string;
  started_at: number | string | null;
  finished_at: number | string | null;
  /** Absent from rows of statements that list their columns. */
  placement?: string | null;
  output_tail?: string | null;
  /** JSON text, or null for none. */
  meta?: string | null;
  /** JSON text (SQLite) or a text[] (PostgreSQL), or null for none. */
  tags?: string | string[] | null;
}

/**
 * Maps a row to the public Job; a queued job whose run-at lies ahead reads as `scheduled`, a
 * running one that has not started (leased ahead) as `claimed`.
 */
export function jobFromRow(row: JobRow, now: number): Job {
  const runAt = Number(row.run_at);
  const state = (
    row.state === 'queued' && runAt > now
      ? 'scheduled'
      : row.state === 'running' && row.started_at === null
        ? 'claimed'
        : row.state
  ) as JobState;
  return {
    id: String(row.id),
    queue: row.queue,
    task: row.task,
    payload: parseJson(row.payload),
    state,
    priority: row.priority,
    runAt,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    timeoutMs: row.timeout_ms,
    uniqueKey: row.unique_key,
    key: row.flow_key || null,
    idempotencyKey: row.idempotency_key,
    callbackUrl: row.callback_url,
    webhookJobId: row.webhook_job_id === null ? null : String(row.webhook_job_id),
    progress: parseJson(row.progress),
    result: parseJson(row.result),
    error: parseJson(row.error) as Job['error'],
    errors: attemptErrors(row.errors),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: toNumber(row.lease_expires_at),
    createdAt: Number(row.created_at),
    startedAt: toNumber(row.started_at),
    finishedAt: toNumber(row.finished_at),
    placement: row.placement ?? null,
    outputTail: row.output_tail ?? null,
    meta: row.meta ? (JSON.parse(row.meta) as Record<string, unknown>) : {},
    tags: typeof row.tags === 'string' ? (JSON.parse(row.tags) as string[]) : (row.tags ?? []),
  };
}

/** The Job a fresh insert made, built from what was inserted (no read back). */
export function jobFromInsert(
  params: EnqueueParams,
  id: number | bigint,
  now: number,
  payload: unknown,
): Job {
  return {
    id: String(id),
    queue: params.queue,
    task: params.task,
    payload,
    state: params.runAt > now ? 'scheduled' : 'queued',
    priority: params.priority,
    runAt: params.runAt,
    attempts: 0,
    maxAttempts: params.maxAttempts,
    timeoutMs: params.timeoutMs,
    uniqueKey: params.uniqueKey,
    key: params.key ?? null,
    idempotencyKey: params.idempotencyKey,
    callbackUrl: params.callbackUrl,
    webhookJobId: null,
    progress: null,
    result: null,
    error: null,
    errors: [],
    leaseOwner: null,
    leaseExpiresAt: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    placement: null,
    outputTail: null,
    meta: params.meta ? (JSON.parse(params.meta) as Record<string, unknown>) : {},
    tags: params.tags ? [...params.tags] : [],
  };
}

/** A row a claim returned, with the lease's fencing token. */
export function claimedFromRow(row: JobRow, now: number): ClaimedJob {
  const job = jobFromRow(row, now) as ClaimedJob;
  job.fence = Number(row.fence);
  return job;
}

/**
 * One failed attempt as the failure history keeps it: no stack, the message cut short, and no NUL
 * character (PostgreSQL's jsonb cannot hold one).
 */
export function attemptErrorEntry(
  error: SerializedError,
  attempt: number,
  at: number,
): JobAttemptError {
  const clean = (text: string) => text.replaceAll('\u0000', '\uFFFD');
  const entry: JobAttemptError = {
    attempt,
    at,
    name: clean(error.name),
    message: clean(error.message.slice(0, MAX_ERROR_MESSAGE)),
  };
  if (error.code !== undefined) entry.code = clean(error.code);
  return entry;
}

function attemptErrors(value: string | unknown[] | null | undefined): JobAttemptError[] {
  const list = (typeof value === 'string' ? JSON.parse(value) : (value ?? [])) as Array<
    JobAttemptError & { code?: string | null }
  >;
  for (const entry of list) if (entry.code === null) delete entry.code;
  return list;
}

function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : (value ?? null);
}

function toNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** A worker registry row as either store returns it: lists as JSON text (SQLite) or arrays, numbers as numbers or bigint text. */
export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  modes: string | string[];
  queues: string | string[];
  running: number;
  started_at: number | string;
  last_heartbeat: number | string;
}

export function workerFromRow(row: WorkerRow): WorkerRecord {
  const list = (value: string | string[]) =>
    typeof value === 'string' ? (JSON.parse(value) as string[]) : value;
  return {
    id: row.id,
    host: row.host,
    pid: Number(row.pid),
    modes: list(row.modes),
    queues: list(row.queues),
    running: Number(row.running),
    startedAt: Number(row.started_at),
    lastHeartbeat: Number(row.last_heartbeat),
  };
}

/** Claim order: priority (higher first), then run-at, then id. */
export function claimOrder(a: Job, b: Job): number {
  return b.priority - a.priority || a.runAt - b.runAt || Number(a.id) - Number(b.id);
}

/** The event fields of a job. */
export function eventOf(job: Job): JobEvent {
  return { id: job.id, queue: job.queue, task: job.task, state: job.state, attempt: job.attempts };
}

/** The event fields of a row that a statement returned, in the state the statement left it. */
export function eventOfRow(
  row: { id: number | string; queue: string; task: string; attempts: number },
  state: JobState,
): JobEvent {
  return { id: String(row.id), queue: row.queue, task: row.task, state, attempt: row.attempts };
}
