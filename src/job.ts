import type { SerializedError } from './errors.ts';

/**
 * Where a job stands. `scheduled` is a waiting job whose run-at lies in the future (a delayed job,
 * or a retry in backoff); it turns `queued` by itself when that time comes. See docs/state-machine.md.
 */
export type JobState = 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const JOB_STATES: readonly JobState[] = Object.freeze([
  'scheduled',
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
]);

/** States a job never leaves by itself. */
export const FINISHED_STATES: readonly JobState[] = Object.freeze(['succeeded', 'failed', 'cancelled']);

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
  /** Enqueueing again with this key returns this job, in any state, for as long as it is kept. */
  idempotencyKey: string | null;
  /** Where the outcome is POSTed (signed) once the job ends. */
  callbackUrl: string | null;
  /** The id of the `offload.webhook` delivery job, once a job with a `callbackUrl` has ended. */
  webhookJobId: string | null;
  progress: unknown;
  result: Result | null;
  error: (SerializedError & { attempt: number }) | null;
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
}

/** A job handed to a worker by a claim; `attempts` doubles as the fencing token of this lease. */
export type ClaimedJob = Job & { state: 'running'; leaseOwner: string; leaseExpiresAt: number };
