import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { backoffDelay, DEFAULT_BACKOFF, MAX_BACKOFF_MS } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';
import {
  describeThrown,
  ErrorCodes,
  OffloadError,
  PermanentFailure,
  Snooze,
  serializeError,
} from '../core/errors.ts';
import type { ClaimedJob } from '../core/job.ts';
import { encodeJson } from '../core/payload.ts';
import { isRateLimited, RateLimited, rateLimitedRunAt } from '../core/rate-limited.ts';
import type { JobOutcome, LeaseRef, RunFacts } from '../store/contract.ts';
import type { Task, TaskContext } from '../task/task.ts';
import { jobLogFields } from './job-log.ts';

/** Why a running job's signal aborted. */
export type AbortReason = 'cancelled' | 'timeout' | 'lease-lost' | 'shutdown';

/**
 * Runs a task's code in some execution mode. `inline` calls it on this event loop. An executor
 * may note what the job record keeps of the run in `facts` (a process's output tail).
 */
export type Executor = (
  task: Task,
  payload: unknown,
  ctx: TaskContext,
  facts: RunFacts,
) => Promise<unknown>;

export interface JobRunDeps {
  workerId: string;
  clock: Clock;
  /** Largest result or progress value, as JSON bytes. */
  maxResultBytes: number;
  /** An inline task holding the loop longer than this (ms) gives it up at `ctx.yield()`. */
  sliceMs: number;
  /** Settles once the store has written or refused the progress; never rejects. */
  saveProgress(lease: LeaseRef, progress: string): Promise<void>;
  /** Something went wrong beside the task (its backoff misbehaved): log it on `log` (the run's) and emit it as the worker's `error`. */
  report(error: OffloadError, log: Logger): void;
  /** The worker's logger: each run's {@link JobRun.log} (and `ctx.logger`) is a child of it bound to the job. */
  log: Logger;
  /** Sees every progress value the task reports, once it is accepted (offload/testing records them). */
  observeProgress?(value: unknown): void;
}

const PROGRESS_INTERVAL_MS = 50;

/** The lease that `workerId`'s claim of `job` holds: what every write of that claim names. */
export function leaseOf(job: ClaimedJob, workerId: string): LeaseRef {
  return { id: job.id, workerId, attempt: job.attempts, fence: job.fence };
}

/**
 * One job's run, as a pipeline of small steps: build the context → start the timeout clock →
 * execute → turn what happened into an outcome. The worker records the outcome.
 */
export class JobRun {
  readonly job: ClaimedJob;
  readonly task: Task;
  readonly lease: LeaseRef;
  readonly startedAt = performance.now();
  readonly #deps: JobRunDeps;
  #controller: AbortController | undefined;
  #reason: AbortReason | undefined;
  #timeout: NodeJS.Timeout | undefined;
  #sliceStart = performance.now();
  #progressTimer: NodeJS.Timeout | undefined;
  #abortError: Error | undefined;
  #rejectRace: ((error: Error) => void) | undefined;
  #pendingProgress: string | undefined;
  #savingProgress: Promise<void> | undefined;
  /** The last progress reported, as JSON: it goes with the outcome, so it cannot lose a race with it. */
  #lastProgress: string | null = null;
  #logger: Logger | undefined;
  #decidedAt: number | undefined;

  constructor(job: ClaimedJob, task: Task, deps: JobRunDeps) {
    this.job = job;
    this.task = task;
    this.#deps = deps;
    this.lease = leaseOf(job, deps.workerId);
  }

  get abortReason(): AbortReason | undefined {
    return this.#reason;
  }

  /** Aborts the task's signal; the first reason wins. */
  abort(reason: AbortReason): void {
    if (this.#reason) return;
    this.#reason = reason;
    const error =
      reason === 'timeout'
        ? new OffloadError(
            ErrorCodes.TASK_TIMEOUT,
            `task "${this.task.name}" ran longer than its timeout of ${this.job.timeoutMs} ms`,
          )
        : reason === 'lease-lost'
          ? new OffloadError(
              ErrorCodes.LEASE_LOST,
              `job ${this.job.id} was cancelled or its lease moved on`,
            )
          : new OffloadError(
              ErrorCodes.TASK_CANCELLED,
              `job ${this.job.id} was ${reason === 'shutdown' ? 'stopped by worker shutdown' : 'cancelled'}`,
            );
    this.#abortError = error;
    this.#controller?.abort(error);
    this.#rejectRace?.(error);
  }

  /** Created on first use: most jobs never look at their signal. */
  get #signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortError) this.#controller.abort(this.#abortError);
    }
    return this.#controller.signal;
  }

  /**
   * Runs the task and returns the outcome to record, or null when nothing may be recorded. The
   * outcome carries `placement` (where it ran and why) and what the executor noted of the run.
   */
  async execute(executor: Executor, placement?: string): Promise<JobOutcome | null> {
    if (this.job.timeoutMs > 0)
      this.#timeout = setTimeout(() => this.abort('timeout'), this.job.timeoutMs);
    const facts: RunFacts = { placement: placement ?? null, outputTail: null };
    try {
      const result = await this.#untilAborted(
        executor(this.task, this.job.payload, this.#context(), facts),
      );
      return this.#withFacts(
        this.#reason ? this.#abortOutcome(this.#abortError) : this.#success(result),
        facts,
      );
    } catch (error) {
      return this.#withFacts(
        this.#reason ? this.#abortOutcome(error) : this.#failure(error),
        facts,
      );
    } finally {
      this.#decidedAt ??= this.#deps.clock.now();
      clearTimeout(this.#timeout);
      clearTimeout(this.#progressTimer);
      this.#pendingProgress = undefined;
    }
  }

  #context(): TaskContext {
    const { job } = this;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const run = this;
    // Closures, not methods: tasks may destructure ctx (`{ progress, signal }`).
    return {
      job: {
        id: job.id,
        task: job.task,
        queue: job.queue,
        attempt: job.attempts,
        maxAttempts: job.maxAttempts,
      },
      get signal() {
        return run.#signal;
      },
      get logger() {
        return run.log;
      },
      progress: (value) => this.#progress(value),
      yield: () => this.#yield(),
      fail: (message) => {
        throw new PermanentFailure(message);
      },
      snooze: (delayMs) => {
        throw new Snooze(delayMs);
      },
      rateLimited: (retryAfter) => {
        throw new RateLimited(retryAfter);
      },
    };
  }

  /**
   * This run's logger: the worker's, with the job's fields bound once ({@link jobLogFields}: id,
   * task, queue, attempt, trace id). Made on first use, like the signal: a pino child costs more
   * than most jobs' runs.
   */
  get log(): Logger {
    return (this.#logger ??= this.#deps.log.child(jobLogFields(this.job)));
  }

  /** When the outcome was made (clock ms): a retry's or a snooze's delay counts from here. */
  get decidedAt(): number {
    return (this.#decidedAt ??= this.#deps.clock.now());
  }

  /** Settles as the task does, or rejects at once when the run is aborted (a task that ignores its signal is left behind). */
  #untilAborted(running: Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      running.then(resolve, reject);
      if (this.#abortError) reject(this.#abortError);
      else this.#rejectRace = reject;
    });
  }

  async #yield(): Promise<void> {
    if (performance.now() - this.#sliceStart < this.#deps.sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.#sliceStart = performance.now();
  }

  #progress(value: unknown): void {
    if (this.#reason) return;
    this.#pendingProgress = encodeJson(value, {
      label: `progress of job ${this.job.id}`,
      code: ErrorCodes.INVALID_RESULT,
      maxBytes: this.#deps.maxResultBytes,
      limitOption: "the worker's `maxResultBytes`",
    });
    this.#lastProgress = this.#pendingProgress;
    this.#deps.observeProgress?.(value);
    if (!this.#progressTimer) {
      this.#flushProgress();
      this.#progressTimer = setTimeout(() => {
        this.#progressTimer = undefined;
        this.#flushProgress();
      }, PROGRESS_INTERVAL_MS);
    }
  }

  /**
   * One save at a time, the latest value next: over a pool of connections two saves could land
   * out of order. The outcome never waits for a save: it carries the last value itself.
   */
  #flushProgress(): void {
    if (this.#pendingProgress === undefined || this.#savingProgress) return;
    const progress = this.#pendingProgress;
    this.#pendingProgress = undefined;
    this.#savingProgress = this.#deps.saveProgress(this.lease, progress).then(() => {
      this.#savingProgress = undefined;
      this.#flushProgress();
    });
  }

  /** The outcome was made by this run: the facts and the last progress go on it in place. */
  #withFacts(outcome: JobOutcome | null, facts: RunFacts): JobOutcome | null {
    if (outcome) {
      outcome.placement = facts.placement ?? null;
      outcome.outputTail = facts.outputTail ?? null;
      outcome.progress = this.#lastProgress;
      outcome.startedAt = this.job.startedAt;
    }
    return outcome;
  }

  #success(result: unknown): JobOutcome {
    try {
      const json = encodeJson(result === undefined ? null : result, {
        label: `result of task "${this.task.name}"`,
        code: ErrorCodes.INVALID_RESULT,
        maxBytes: this.#deps.maxResultBytes,
        limitOption: "the worker's `maxResultBytes`",
      });
      return { kind: 'succeeded', lease: this.lease, result: json };
    } catch (error) {
      return { kind: 'failed', lease: this.lease, error: serializeError(error), retryAt: null };
    }
  }

  /**
   * The outcome of this run failing with `error` from outside the task (a middleware's): a
   * failure like a task's, retried by the task's policy, with what `ran` (the run's own outcome,
   * when the task ran) noted of the run.
   */
  failWith(error: unknown, ran?: JobOutcome): JobOutcome {
    const outcome = this.#failure(error);
    outcome.placement = ran?.placement ?? null;
    outcome.outputTail = ran?.outputTail ?? null;
    outcome.progress = this.#lastProgress;
    outcome.startedAt = this.job.startedAt;
    return outcome;
  }

  #abortOutcome(error: unknown): JobOutcome | null {
    if (this.#reason === 'timeout') return this.#failure(error);
    if (this.#reason === 'shutdown') return { kind: 'released', lease: this.lease };
    return null;
  }

  #failure(error: unknown): JobOutcome {
    const name = (error as Error | undefined)?.name;
    const now = (this.#decidedAt = this.#deps.clock.now());
    if (error instanceof Snooze || name === 'Snooze') {
      const delayMs = Math.floor(
        Math.min(MAX_BACKOFF_MS, Math.max(0, Number((error as Snooze).delayMs) || 0)),
      );
      return { kind: 'snoozed', lease: this.lease, runAt: now + delayMs };
    }
    if (isRateLimited(error)) {
      const runAt = rateLimitedRunAt(error, now);
      return { kind: 'rateLimited', lease: this.lease, runAt };
    }
    const serialized = serializeError(error);
    const permanent = error instanceof PermanentFailure || name === 'PermanentFailure';
    const attemptsLeft = this.job.attempts < this.job.maxAttempts;
    if (permanent || !attemptsLeft)
      return { kind: 'failed', lease: this.lease, error: serialized, retryAt: null };
    return {
      kind: 'failed',
      lease: this.lease,
      error: serialized,
      retryAt: now + this.#retryDelay(),
    };
  }

  /**
   * The task's backoff for this retry. One that throws or gives no delay is reported, and this
   * retry waits the default backoff instead: the job keeps its attempts.
   */
  #retryDelay(): number {
    const attempt = this.job.attempts;
    try {
      return backoffDelay(this.task.backoff ?? {}, attempt);
    } catch (error) {
      const what = error instanceof Error ? error.message : describeThrown(error);
      this.#deps.report(
        new OffloadError(
          ErrorCodes.INVALID_BACKOFF,
          `task "${this.task.name}": after attempt ${attempt} failed, ${what}. This retry waits the default backoff instead (1 s doubling, capped at 1 h, with jitter)`,
          {
            cause: error instanceof OffloadError ? (error.cause ?? error) : error,
            details: { task: this.task.name, job: this.job.id, attempt },
          },
        ),
        this.log,
      );
      return backoffDelay(DEFAULT_BACKOFF, attempt);
    }
  }
}
