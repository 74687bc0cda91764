import type { SerializedError } from './errors.ts';

/**
 * Where a job stands. `scheduled` is a waiting job whose run-at lies in the future (a delayed job,
 * or a retry in backoff); it turns `queued` by itself when that time comes. `claimed` is a job a
 * worker has leased ahead of time and holds until one of its slots frees; it turns `running` when
 * it starts. See docs/state-machine.md.
 */
export type JobState =
  'scheduled' | 'queued' | 'claimed' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const JOB_STATES: readonly JobState[] = Object.freeze([
  'scheduled',
  'queued',
  'claimed',
  'running',
  'succeeded',
  'failed',
  'cancelled',
]);

/** States a job never leaves by itself. */
export const FINISHED_STATES: readonly JobState[] = Object.freeze([
  'succeeded',
  'failed',
  'cancelled',
]);

/** One run of a task with a payload, as the store keeps it. Times are epoch milliseconds. */
export interface Job<Payload = unknown, Result = unknown> {
  /** Store-assigned, increasing in enqueue order. */
  id: string;
  queue: string;
  task: string;
  payload: Payload;
  state: JobState;
  /** Higher runs first. */
  priority: number;
  runAt: number;
  /** Runs started so far (a run cut short by a dead worker counts). */
  attempts: number;
  maxAttempts: number;
  /** Timeout per run in milliseconds; 0 means none. */
  timeoutMs: number;
  uniqueKey: string | null;
  /** The flow key its queue's per-key limits, rate limits and fair rotation go by (docs/flow-control.md). */
  key: string | null;
  /** Enqueueing again with this key returns this job, in any state, for as long as it is kept. */
  idempotencyKey: string | null;
  /** Where the outcome is POSTed (signed) once the job ends. */
  callbackUrl: string | null;
  /** The id of the `offload.webhook` delivery job, once a job with a `callbackUrl` has ended. */
  webhookJobId: string | null;
  progress: unknown;
  result: Result | null;
  /** The error of the last failed attempt, with its stack. */
  error: (SerializedError & { attempt: number }) | null;
  /** Every failed attempt, oldest first, as long as the job is kept (the last {@link MAX_ERROR_HISTORY}). */
  errors: JobAttemptError[];
  /** The worker holding the lease while `running`: `host:pid:id`. */
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Where the last run ran and why, e.g. `thread: auto: blocked the loop 12.0 ms ≥ 4 × 45 µs round trip`. */
  placement: string | null;
  /** The last few KiB a process-mode run wrote to stdout and stderr ('' when it wrote nothing); null in other modes. */
  outputTail: string | null;
  /** Small facts set at enqueue (a trace context, a tenant): a JSON object of at most 8 KiB; `{}` when none. */
  meta: Record<string, unknown>;
  /** Short labels set at enqueue, without duplicates, filterable (`tag`); `[]` when none. */
  tags: string[];
}

/** One failed attempt of a job, as its failure history keeps it. */
export interface JobAttemptError {
  attempt: number;
  /** When the attempt failed (epoch ms). */
  at: number;
  name: string;
  /** The message, cut at {@link MAX_ERROR_MESSAGE} characters. */
  message: string;
  code?: string;
}

/** Failed attempts a job's history keeps: the newest ones. */
export const MAX_ERROR_HISTORY = 20;
/** Characters of each message in the failure history. */
export const MAX_ERROR_MESSAGE = 1000;

/**
 * A job handed to a worker by a claim. `fence` is the lease's fencing token: it grows with every
 * claim of the job and is never reset (not by a manual retry either), so a run that began before a
 * cancel or retry can never write over a later one.
 */
export type ClaimedJob = Job & {
  state: 'claimed' | 'running';
  leaseOwner: string;
  leaseExpiresAt: number;
  fence: number;
};
