import type { Clock } from '../core/clock.ts';
import type { SerializedError } from '../core/errors.ts';
import type { ClaimedJob, Job, JobState } from '../core/job.ts';

/**
 * The store contract: the one place that decides who runs a job. SQLite and PostgreSQL implement
 * it, and both pass test/store-contract unchanged. Methods name the noun first and take one params
 * object. Payloads, results and progress cross this boundary as JSON text, so a store never
 * re-encodes what the caller already validated.
 */
export interface Store {
  /** A short label for logs: `sqlite:/path/to/file.db`. */
  readonly description: string;
  readonly clock: Clock;

  /** `context.client` joins the caller's own transaction (see {@link EnqueueContext}). */
  jobEnqueue(params: EnqueueParams, context?: EnqueueContext): Promise<EnqueueResult>;
  /** All or nothing, in one transaction; results in input order. */
  jobEnqueueMany(
    params: readonly EnqueueParams[],
    context?: EnqueueContext,
  ): Promise<EnqueueResult[]>;
  /**
   * Leases up to `limit` due jobs per queue (skipping paused queues), in order: priority (higher
   * first), then run-at, then enqueue order. The first `start` of each queue are `running`; the
   * rest are `claimed` until a `started` record. Each claim increments `attempts` and the job's
   * fencing token (`fence`, never reset), which fences every later write of this lease.
   */
  jobClaim(params: ClaimParams): Promise<ClaimedJob[]>;
  /** Extends live leases; returns the ids whose lease is gone (cancelled, expired, moved on). */
  jobRenewLeases(params: RenewParams): Promise<string[]>;
  /**
   * Records outcomes of leased jobs (and `started` marks of claimed ones) in one transaction.
   * `accepted[i]` is false when the lease had moved on. A call that holds an invalid outcome
   * (unknown kind, a run-at that is not a safe integer, a result that is not a string…) is refused
   * whole with ERR_INVALID_OPTION naming the outcome and its field, and none of its outcomes is
   * written; other calls are not affected.
   */
  jobRecordOutcomes(outcomes: readonly JobOutcome[]): Promise<boolean[]>;
  /** Saves progress of a leased job; false when the lease is gone. */
  jobSetProgress(params: LeaseRef & { progress: string }): Promise<boolean>;
  /** Cancels a scheduled, queued or running job. Throws ERR_JOB_NOT_FOUND / ERR_JOB_STATE. */
  jobCancel(params: { id: string }): Promise<Job>;
  /**
   * Puts a failed or cancelled job back in its queue with a fresh attempt budget. Its fencing token
   * is kept, so the run that was cancelled can record nothing over the next one.
   */
  jobRetry(params: { id: string }): Promise<Job>;
  /**
   * Changes a job that has not started (scheduled or queued): its run-at, priority or payload (JSON
   * text the caller validated); absent fields are kept, and so are its flow key and attempts. The
   * state is checked by the statement that writes, so a job claimed meanwhile throws ERR_JOB_STATE
   * and is not changed; an unknown id throws ERR_JOB_NOT_FOUND. Emits `job:updated`.
   */
  jobUpdate(params: JobUpdateParams): Promise<Job>;
  /**
   * Deletes a job that has not started (scheduled, queued) or has ended (succeeded, failed,
   * cancelled), and resolves with the job as it was. A claimed or running job throws ERR_JOB_STATE
   * and stays, checked by the statement that deletes; an unknown id throws ERR_JOB_NOT_FOUND. Its
   * id is never handed out again, and its unique and idempotency keys are free from then on.
   * Emits `job:removed`.
   */
  jobRemove(params: { id: string }): Promise<Job>;
  jobGet(params: { id: string }): Promise<Job | undefined>;
  /** Newest first; pass `nextCursor` back as `cursor` for the next page. */
  jobList(params: JobListParams): Promise<{ jobs: Job[]; nextCursor: string | null }>;
  jobCount(params: JobFilter): Promise<Record<JobState, number>>;
  /** Requeues (or fails, when attempts are spent) running jobs whose lease expired. */
  jobRecoverExpired(): Promise<{ requeued: string[]; failed: string[] }>;
  /**
   * Deletes succeeded, failed and cancelled jobs that finished before `before`, but never the
   * newest job of the store: SQLite would hand its id out again.
   */
  jobDeleteFinished(params: { before: number; limit?: number }): Promise<number>;
  /**
   * How many jobs a bulk action would change now: those matching `filter` in a state the action
   * applies to (retry: failed or cancelled; cancel: not ended; delete: ended or not started).
   */
  jobBulkCount(params: { action: BulkAction; filter: BulkFilter }): Promise<number>;
  /**
   * Records a bulk action (state `running`) over the jobs matching `filter` now, up to the newest
   * job id at this moment; nothing is changed until {@link jobBulkStep} runs its chunks.
   */
  jobBulkCreate(params: { action: BulkAction; filter: BulkFilter }): Promise<BulkRecord>;
  /**
   * Runs the next chunk of a bulk action: up to `limit` (default 1000) matching jobs after its id
   * cursor, changed in one transaction with the progress record, so no write lock is held for
   * long. `owner` takes the action's lease for `leaseMs`; a live lease of another owner leaves
   * everything as it is and answers null. The last chunk sets the state to `done`.
   */
  jobBulkStep(params: {
    id: string;
    owner: string;
    leaseMs: number;
    limit?: number;
  }): Promise<BulkRecord | null>;
  /** Marks a running bulk action `interrupted`, with the reason; false when it is not running. */
  jobBulkInterrupt(params: { id: string; error: string }): Promise<boolean>;
  jobBulkGet(params: { id: string }): Promise<BulkRecord | undefined>;
  /** Bulk actions newest first (at most 100), of one state when given. */
  jobBulkList(params: { state?: BulkState }): Promise<BulkRecord[]>;
  /**
   * Jobs that failed for good, grouped by task and error (its code; its message when it has none),
   * largest group first, at most `limit` (default 100) groups.
   */
  jobDeadLetters(params: DeadLetterParams): Promise<DeadLetterGroup[]>;
  /** The earliest run-at among waiting jobs of these tasks in these unpaused queues, or null. */
  jobNextRunAt(params: {
    queues: readonly string[];
    tasks: readonly string[];
  }): Promise<number | null>;

  /**
   * Sets one layer of a queue's flow control: `declared` (from task modules, written when a worker
   * starts) or `runtime` (from `queue.setLimits`). The runtime layer, when set, replaces the declared
   * one whole; `limits: null` clears the layer. Jobs already running count toward a new limit.
   */
  limitsSet(params: {
    queue: string;
    layer: LimitsLayer;
    limits: QueueLimits | null;
  }): Promise<void>;
  /** A queue's flow control and its live state (running, tokens, busiest keys); undefined when it has none. */
  limitsGet(params: { queue: string }): Promise<LimitsState | undefined>;
  /** Every queue with flow control, by name. */
  limitsList(): Promise<LimitsState[]>;

  queuePause(params: { name: string }): Promise<void>;
  queueResume(params: { name: string }): Promise<void>;
  queueList(): Promise<QueueInfo[]>;

  /** Records the tasks a worker serves, so enqueue-by-name and listings know them. */
  taskRegister(params: { tasks: readonly TaskInfo[] }): Promise<void>;
  taskList(): Promise<TaskInfo[]>;

  /** A setting of this store (the webhook secret, for one), or undefined. */
  settingGet(params: { key: string }): Promise<string | undefined>;
  /** Sets a setting, replacing what was there. */
  settingSet(params: { key: string; value: string }): Promise<void>;
  /**
   * Get-or-create in one step: stores `value` unless the key has one already, and returns the
   * value that is stored now, so every process that races to create it agrees on one.
   */
  settingInit(params: { key: string; value: string }): Promise<string>;

  /** Stores a new API token (its hash only). Throws ERR_INVALID_OPTION when the id is taken. */
  tokenCreate(params: {
    id: string;
    name: string;
    scopes: readonly string[];
    hash: string;
  }): Promise<TokenRecord>;
  /** One token with its hash, revoked or not. */
  tokenGet(params: { id: string }): Promise<TokenRecord | undefined>;
  /** All tokens, revoked ones too, oldest first. */
  tokenList(): Promise<TokenRecord[]>;
  /** Revokes a token; false when there is no such token or it was revoked already. */
  tokenRevoke(params: { id: string }): Promise<boolean>;
  /** Records a use of the token; skipped when the last recorded use is younger than `minIntervalMs` (default 60 000). */
  tokenTouch(params: { id: string; minIntervalMs?: number }): Promise<void>;

  /**
   * Records that a worker is alive and what it serves (an upsert by id), and forgets workers
   * silent for over an hour.
   */
  workerHeartbeat(params: WorkerRecord): Promise<void>;
  /** Forgets a worker that stopped. */
  workerRemove(params: { id: string }): Promise<void>;
  /** Workers heard from at or after `since` (epoch ms), by id. */
  workerList(params: { since: number }): Promise<WorkerRecord[]>;

  /**
   * Subscribes to job events. Events of this store instance arrive at once; events of other
   * processes arrive as `store:changed` hints, which mean "look again" (the SQLite store's name the
   * jobs that ended, see {@link StoreChange}). Stores that carry job
   * events between processes (PostgreSQL with `listen`) deliver other instances' events too, each
   * job's in the order its changes committed (docs/postgres.md); events of different jobs may
   * interleave in any order.
   */
  on<E extends keyof StoreEvents>(
    event: E,
    listener: (payload: StoreEvents[E]) => void,
  ): () => void;
  /** Closes connections and timers. A second call does nothing. */
  close(): Promise<void>;
}

/** What {@link Store.jobUpdate} changes; absent fields are kept. */
export interface JobUpdateParams {
  id: string;
  runAt?: number;
  priority?: number;
  /** JSON text. */
  payload?: string;
}

export interface EnqueueParams {
  task: string;
  queue: string;
  /** JSON text. */
  payload: string;
  priority: number;
  runAt: number;
  maxAttempts: number;
  timeoutMs: number;
  uniqueKey: string | null;
  /** Returns the job made with this key, in any state, while it is kept; see ERR_IDEMPOTENCY_CONFLICT. */
  idempotencyKey: string | null;
  /** An absolute http(s) URL; when the job ends, an `offload.webhook` delivery job is created with it. */
  callbackUrl: string | null;
  /** The flow key (a tenant, an account) its queue's per-key limits and fairness go by; null: none. */
  key?: string | null;
  /** JSON text of an object (validated, at most 8 KiB); absent or null: none. */
  meta?: string | null;
  /** Distinct tags (validated); absent, null or empty: none. */
  tags?: readonly string[] | null;
}

/** Where an enqueue writes. Default: the store's own connections. */
export interface EnqueueContext {
  /**
   * A database client of the caller's: the insert runs on it, inside whatever transaction it has
   * open, so the job exists if and only if that transaction commits. The PostgreSQL store takes a
   * `pg` Client or PoolClient (or a Pool, for no transaction); the SQLite store refuses it with
   * ERR_INVALID_OPTION. Local `job:enqueued` events are not emitted for such jobs; stores that
   * carry events between processes announce them once the transaction commits.
   */
  client?: unknown;
}

export interface EnqueueResult {
  job: Job;
  /**
   * False when an existing job was returned instead of adding one: the job made with the same
   * idempotency key (any state), or the unfinished job holding the same unique key.
   */
  created: boolean;
}

export interface ClaimParams {
  workerId: string;
  /**
   * `limit`: jobs to lease from the queue. `start`: how many of them start at once (default all);
   * the rest are leased ahead, `claimed`, until the worker records them `started`.
   */
  queues: ReadonlyArray<{ name: string; limit: number; start?: number }>;
  /** Only jobs of these tasks are claimed. */
  tasks: readonly string[];
  leaseMs: number;
  /**
   * Leases of this worker whose runs have ended and whose outcomes are on their way. Their
   * flow-control slots stay counted until those outcomes are written (which gives each back once),
   * but this claim counts them free, so a limited queue's next jobs need not wait for the outcome
   * write; a queue's counters may thus read above its limit for that moment, never what runs. A
   * queue under strict order does not (a retry must come before the key's next job); nor should a
   * worker name a run that hit a remote rate limit (its hold comes with its outcome). A lease that
   * has moved on counts for nothing.
   */
  ended?: readonly LeaseRef[];
}

/** Identifies one lease: the job, its holder, the attempt it was claimed for, and its fencing token. */
export interface LeaseRef {
  id: string;
  workerId: string;
  attempt: number;
  /** The claim's `ClaimedJob.fence`: a write of this lease matches only while the job still holds it. */
  fence: number;
}

export interface RenewParams {
  leases: readonly LeaseRef[];
  leaseMs: number;
}

export type JobOutcome = (
  | { kind: 'succeeded'; lease: LeaseRef; result: string }
  /** `retryAt` null: failed for good. */
  | { kind: 'failed'; lease: LeaseRef; error: SerializedError; retryAt: number | null }
  /** Back to the queue at `runAt`, this run not counted as an attempt. */
  | { kind: 'snoozed'; lease: LeaseRef; runAt: number }
  /** Given back unfinished (shutdown): queued at once, this run not counted. */
  | { kind: 'released'; lease: LeaseRef }
  /**
   * A remote rate limit was hit (`ctx.rateLimited`): back to the queue at `runAt`, this run not
   * counted, and the job's key (its whole queue when it has none) starts nothing until then.
   */
  | { kind: 'rateLimited'; lease: LeaseRef; runAt: number }
  /** Not an end: a `claimed` job's run began; it is `running` from now on. */
  | { kind: 'started'; lease: LeaseRef }
) &
  RunFacts;

/** What a run leaves on the job record with its outcome (`Job.placement`, `Job.outputTail`); absent means null. */
export interface RunFacts {
  placement?: string | null;
  outputTail?: string | null;
  /**
   * The last progress the run reported (JSON), written with the outcome so it cannot lose a race
   * with it; absent or null keeps what is on the job.
   */
  progress?: string | null;
  /**
   * When the run began (epoch ms): a job claimed ahead whose start was not recorded on its own gets
   * it with the outcome; absent or null, the outcome's time.
   */
  startedAt?: number | null;
}

export interface JobFilter {
  queue?: string;
  state?: JobState;
  task?: string;
  /** Jobs carrying this tag (an index keeps it cheap on both stores). */
  tag?: string;
}

/** What a bulk action does to each job it matches. */
export type BulkAction = 'retry' | 'cancel' | 'delete';
export const BULK_ACTIONS: readonly BulkAction[] = ['retry', 'cancel', 'delete'];
export type BulkState = 'running' | 'done' | 'interrupted';

/** Which jobs a bulk action takes: every field given must match (`tag`: jobs carrying that tag). */
export interface BulkFilter extends JobFilter {
  /** The code of the job's last error; null: an error without a code. */
  errorCode?: string | null;
  /** The message of the job's last error, whole. */
  errorMessage?: string;
  /** Only jobs created before this time (epoch ms). */
  createdBefore?: number;
}

/** A bulk action as the store keeps it, readable by any process on the store. */
export interface BulkRecord {
  id: string;
  action: BulkAction;
  filter: BulkFilter;
  state: BulkState;
  /** Jobs that matched when the action was created. */
  matched: number;
  /** Jobs changed so far. */
  done: number;
  /** Jobs reached but left alone: their state moved on, or (retry) another unfinished job holds their unique key. */
  skipped: number;
  /** Why it was interrupted, or null. */
  error: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface DeadLetterParams {
  queue?: string;
  task?: string;
  /** Default 100, at most 1000. */
  limit?: number;
}

/** Jobs of one task that failed for good with one error. */
export interface DeadLetterGroup {
  task: string;
  errorCode: string | null;
  /** The group's message (groups without a code), else the message of its newest job. */
  errorMessage: string;
  count: number;
  /** When the first and the last of them failed (epoch ms). */
  firstSeen: number;
  lastSeen: number;
  lastJobId: string;
  /** The filter that takes this group, for a redrive (a bulk retry). */
  filter: BulkFilter;
}

export interface JobListParams extends JobFilter {
  /** Default 50, at most 1000. */
  limit?: number;
  cursor?: string | null;
}

export interface QueueInfo {
  name: string;
  paused: boolean;
  counts: Record<JobState, number>;
}

/**
 * Flow control of one queue, across every worker on the store (docs/flow-control.md). Absent
 * fields set no limit. Keys come from jobs (`EnqueueParams.key`); jobs without a key form one group
 * of their own, bound by the queue-wide limits only.
 */
export interface QueueLimits {
  /** Jobs of the queue running at once (claimed ones included), 1 to 1 000 000. */
  concurrency?: number;
  /** Jobs of one key running at once, 1 to 1 000 000. */
  keyConcurrency?: number;
  /** Per-key replacements of `keyConcurrency`, for tiers: `{ acme: 10 }`. */
  keyOverrides?: Record<string, number>;
  /** Starts of the queue's jobs per sliding window. */
  rate?: RateWindow;
  /** Starts of one key's jobs per sliding window. */
  keyRate?: RateWindow;
  /**
   * `fair`: claims rotate over keys and `ctx.rateLimited` holds a key, with no other limit (any
   * limit implies it). `strict`: a key's jobs start one at a time in enqueue order, each only after
   * the one before it ended, retries included; priorities and run-ats do not reorder them.
   */
  order?: 'fair' | 'strict';
}

/** At most `limit` starts in any `per` milliseconds (a sliding window). */
export interface RateWindow {
  limit: number;
  per: number;
}

export type LimitsLayer = 'declared' | 'runtime';

/** A queue's flow control as configured, and what it holds back right now. */
export interface LimitsState {
  queue: string;
  /** What applies: the runtime layer when set, else the declared one. */
  limits: QueueLimits;
  declared: QueueLimits | null;
  runtime: QueueLimits | null;
  /** Jobs of the queue holding a slot (running or claimed). */
  running: number;
  /** The queue-wide rate window now; null without `rate`. */
  tokens: TokenState | null;
  /** Until when `ctx.rateLimited` holds the whole queue (epoch ms), or null. */
  heldUntil: number | null;
  /** Due jobs waiting while a limit holds them back. */
  heldBack: number;
  /** The busiest keys (most running first, at most 20). */
  keys: KeyState[];
}

export interface TokenState {
  /** Starts the window allows now. */
  left: number;
  /** When the next start frees (epoch ms), or null when one is free now. */
  nextAt: number | null;
}

export interface KeyState {
  key: string;
  running: number;
  /** Its concurrency limit (an override or `keyConcurrency`; 1 under strict order), or null. */
  limit: number | null;
  tokens: TokenState | null;
  heldUntil: number | null;
}

/** A worker as the registry knows it: identity, what it serves, and when it last checked in. */
export interface WorkerRecord {
  /** `host:pid:id`, as on the jobs it leases. */
  id: string;
  host: string;
  pid: number;
  modes: string[];
  queues: string[];
  /** Jobs it was running at its last heartbeat. */
  running: number;
  startedAt: number;
  lastHeartbeat: number;
}

export interface TaskInfo {
  name: string;
  queue: string;
  mode: string;
  attempts: number;
  priority: number;
  timeout: number;
}

/** A job event: enough to update a view without reading the job again. */
export interface JobEvent {
  id: string;
  queue: string;
  task: string;
  state: JobState;
  attempt: number;
}

export interface StoreEvents {
  'job:enqueued': JobEvent;
  'job:started': JobEvent;
  'job:progress': JobEvent & { progress: unknown };
  'job:succeeded': JobEvent;
  'job:retrying': JobEvent & { error: SerializedError; runAt: number };
  'job:failed': JobEvent & { error: SerializedError };
  'job:cancelled': JobEvent;
  /** A waiting job's run-at, priority or payload changed (`queue.update`). */
  'job:updated': JobEvent & { runAt: number };
  /** A job was deleted (`queue.remove`); `state` is the one it had. */
  'job:removed': JobEvent;
  /** Another process changed the store; look again. See {@link StoreChange}. */
  'store:changed': StoreChange;
}

/**
 * What a `store:changed` hint knows. Stores that carry other processes' job events (PostgreSQL with
 * `listen`) leave `ended` out: the ends arrived as `job:succeeded`, `job:failed`, `job:cancelled`.
 */
export interface StoreChange {
  /**
   * Ids of jobs that ended (succeeded, failed for good, cancelled) since the store's last hint, in
   * any process, this one's included. The SQLite store reads them by its end sequence (one indexed
   * range), so a waiter checks these jobs instead of every job it follows.
   */
  ended?: readonly string[];
  /**
   * Job events of other processes may have been missed (a reconnect, a store without `listen`, a
   * backlog longer than one hint carries): look again at every job you follow.
   */
  missed?: boolean;
}

/** An API token as the store keeps it: never the secret, only its SHA-256 hash (hex). */
export interface TokenRecord {
  id: string;
  name: string;
  scopes: string[];
  hash: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** The built-in task that delivers webhooks, and its queue. */
export const WEBHOOK_TASK = 'offload.webhook';
export const WEBHOOK_QUEUE = 'offload.webhooks';
/** Attempts of a delivery job (set by the stores' triggers). */
export const WEBHOOK_ATTEMPTS = 8;

export function emptyCounts(): Record<JobState, number> {
  return { scheduled: 0, queued: 0, claimed: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
}
