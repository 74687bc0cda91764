import { EventEmitter } from 'node:events';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { ClaimedJob } from '../core/job.ts';
import type { Backoff } from '../core/backoff.ts';
import type { JobOutcome, LeaseRef, QueueLimits, Store } from '../store/contract.ts';
import { WEBHOOK_QUEUE, WEBHOOK_TASK } from '../store/contract.ts';
import type { Task } from '../task/task.ts';
import { TaskRegistry } from '../task/task-registry.ts';
import type { PoolStats } from '../pool/shared/pool-stats.ts';
import { createWebhookTask } from '../webhooks/delivery.ts';
import { declaredLimits } from './declared-limits.ts';
import { Executors } from './executors.ts';
import { JobRun, leaseOf, type JobRunDeps } from './job-run.ts';
import { jobLogFields, logRunEnd, logsAt } from './job-log.ts';
import { describeBlock, LoopWatchdog, type LoopBlock } from './loop-watchdog.ts';
import { describePlacement, type JobPlacement } from './mode-placer.ts';
import { OutcomeRecorder } from './outcome-recorder.ts';
import { Producer } from './producer.ts';
import type { RunMiddleware } from './run-middleware.ts';
import { RunTally, type RunSummary } from './run-summary.ts';
import { Heartbeat } from './services/heartbeat.ts';
import { LeaseRenewer } from './services/lease-renewer.ts';
import { Pruner } from './services/pruner.ts';
import { Rescuer } from './services/rescuer.ts';
import type { Service, ServiceDeps } from './services/service.ts';
import {
  DEFAULT_RETENTION_INTERVAL_MS,
  DEFAULT_RETENTION_MS,
  HEARTBEAT_MS,
  parseWorkerOptions,
  resolveQueues,
  type ParsedWorkerOptions,
  type WorkerOptions,
} from './worker-options.ts';

export type { WorkerOptions } from './worker-options.ts';
export type { RunSummary } from './run-summary.ts';

/** How long a job claimed ahead runs before its start is recorded on its own (ms); see #markStarted. */
const START_RECORD_DELAY_MS = 100;

/** Events a worker emits. */
export interface WorkerEvents {
  /** A job starts, with where it runs and why (`auto` tasks: the measured rule's reason). */
  'job:start': [ClaimedJob, JobPlacement];
  'job:end': [ClaimedJob, JobOutcome | null];
  'loop:blocked': [LoopBlock];
  error: [Error];
}

/**
 * Claims jobs from a store and runs them: the claim → run → renew → record loop. Start with
 * `start()`, stop with `stop()` (graceful; a second call returns the same promise). The claim loop
 * is the {@link Producer}, each run a {@link JobRun}, the background loops services
 * (src/worker/services/); the worker holds the runs and records their outcomes.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly store: Store;
  readonly #options: ParsedWorkerOptions;
  readonly #tasks: TaskRegistry;
  readonly #capacity: Map<string, number>;
  /** The flow control its tasks declare, by queue (only queues with some). */
  readonly #declared: Map<string, QueueLimits>;
  #startedAt = 0;
  readonly #active = new Map<string, JobRun>();
  readonly #activeByQueue = new Map<string, number>();
  readonly #recorder: OutcomeRecorder;
  readonly #watchdog: LoopWatchdog;
  readonly #executors: Executors;
  /** What every JobRun needs of this worker: one object for all of them. */
  readonly #runDeps: JobRunDeps;
  readonly #producer: Producer;
  readonly #heartbeat: Heartbeat;
  readonly #rescuer: Rescuer;
  /** Lease renewal, rescue, heartbeat and retention, in the order they start. */
  readonly #services: Service[];
  readonly #log: Logger;
  #offCancelled: (() => void) | undefined;
  readonly #unrecordedStarts = new Set<JobRun>();
  #startTimer: NodeJS.Timeout | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;
  /** Runs from their start until their outcome is recorded (#active lets go of a run before that). */
  #runs = 0;
  /** Runs that have ended, so a claim sent before the last one ended is not taken for idleness. */
  #ends = 0;
  /** Set while `runUntilIdle()` waits: called once nothing runs and a claim after the last end found nothing. */
  #onIdle: (() => void) | undefined;
  /** Undefined when there is none: a run without middleware makes no context and no closure. */
  readonly #middleware: readonly RunMiddleware[] | undefined;
  /** Loaded on the first run through middleware: workers without any never load it. */
  #middlewareModule: Promise<typeof import('./run-middleware.ts')> | undefined;

  constructor(options: WorkerOptions) {
    super();
    this.#options = parseWorkerOptions(options);
    this.store = this.#options.store;
    this.#tasks = new TaskRegistry(options.tasks);
    this.id =
      this.#options.id ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#log = (this.#options.logger ?? pino({ level: 'warn' })).child({ worker: this.id });
    this.#capacity = resolveQueues(
      this.#options.queues,
      this.#tasks.list(),
      this.#options.concurrency,
    );
    if (this.#options.webhookSecret !== undefined)
      this.#serveWebhooks(this.#options.webhookSecret, options.webhookBackoff);
    this.#declared = declaredLimits(this.#tasks.list());
    this.#recorder = new OutcomeRecorder(this.store);
    this.#watchdog = new LoopWatchdog({
      thresholdMs: this.#options.blockThreshold,
      onBlock: (block) => this.#reportBlock(block),
    });
    this.#executors = new Executors({
      taskModule: this.#options.taskModule,
      pools: options.pools,
      onMove: (task, placement) => this.#logMove(task, placement),
    });
    this.#runDeps = this.#createRunDeps();
    this.#middleware = options.middleware?.length ? [...options.middleware] : undefined;
    const deps: ServiceDeps = {
      store: this.store,
      log: this.#log,
      fail: (error, message) => this.#fail(error, message),
    };
    this.#producer = this.#createProducer(deps);
    this.#heartbeat = this.#createHeartbeat(deps);
    this.#rescuer = new Rescuer({
      ...deps,
      intervalMs: this.#options.recoveryInterval,
      onRescued: () => this.#producer.wake(true),
    });
    this.#services = [
      this.#createRenewer(deps),
      this.#rescuer,
      this.#heartbeat,
      ...this.#createPruner(deps),
    ];
    for (const task of this.#tasks.list()) this.#executors.check(task);
  }

  #serveWebhooks(secret: string, backoff: Backoff | undefined): void {
    this.#tasks.add(createWebhookTask({ store: this.store, secret, backoff }));
    if (!this.#capacity.has(WEBHOOK_QUEUE))
      this.#capacity.set(WEBHOOK_QUEUE, this.#options.concurrency);
  }

  #createProducer(deps: ServiceDeps): Producer {
    const { leaseMs, pollInterval } = this.#options;
    return new Producer({
      ...deps,
      workerId: this.id,
      leaseMs,
      pollInterval,
      capacity: this.#capacity,
      activeIn: (queue) => this.#activeByQueue.get(queue) ?? 0,
      claimableTasks: () => this.#tasks.list().filter((task) => this.#executors.hasRoom(task)),
      roomFor: (task) => this.#executors.room(task),
      startJob: (job) => this.#startJob(job),
      record: (outcome) => this.#recorder.record(outcome),
      endedLeases: (queues) => this.#recorder.ended(queues),
      observeClaim: () => this.#observeClaim(),
    });
  }

  #createRunDeps(): JobRunDeps {
    const { maxResultBytes, sliceMs } = this.#options;
    return {
      workerId: this.id,
      clock: this.store.clock,
      maxResultBytes,
      sliceMs,
      saveProgress: (lease, progress) => this.#saveProgress(lease, progress),
      report: (error, log) => this.#fail(error, error.message, log),
      log: this.#log,
    };
  }

  #createHeartbeat(deps: ServiceDeps): Heartbeat {
    const modes = this.#tasks.list().map((task) => task.mode);
    const queues = [...this.#capacity.keys()];
    return new Heartbeat({
      ...deps,
      workerId: this.id,
      intervalMs: HEARTBEAT_MS,
      modes,
      queues,
      running: () => this.#active.size,
      startedAt: () => this.#startedAt,
    });
  }

  #createRenewer(deps: ServiceDeps): LeaseRenewer {
    const producer = this.#producer;
    return new LeaseRenewer({
      ...deps,
      workerId: this.id,
      leaseMs: this.#options.leaseMs,
      active: this.#active,
      waiting: () => producer.waiting(),
      dropWaiting: (id) => producer.dropWaiting(id),
    });
  }

  /** Retention, unless the options turn it off. */
  #createPruner(deps: ServiceDeps): Pruner[] {
    const retention = this.#options.retention;
    if (!retention) return [];
    return [
      new Pruner({
        ...deps,
        maxAge: retention.maxAge ?? DEFAULT_RETENTION_MS,
        intervalMs: retention.interval ?? DEFAULT_RETENTION_INTERVAL_MS,
      }),
    ];
  }

  /** Jobs this worker is running now. */
  get running(): number {
    return this.#active.size;
  }

  /** Jobs this worker has claimed ahead and holds until a slot frees (state `claimed`). */
  get claimed(): number {
    return this.#producer.claimed;
  }

  /** Statistics of this worker's thread and process pools (none until a task of that mode ran). */
  poolStats(): Array<{ key: string; stats: PoolStats }> {
    return this.#executors.poolStats();
  }

  /** Registers the tasks in the store, then starts claiming. Resolves once the first look for work is done. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#startedAt = this.store.clock.now();
    const tasks = this.#tasks.list().filter((task) => task.name !== WEBHOOK_TASK);
    await this.store.taskRegister({
      tasks: tasks.map(({ name, queue, mode, attempts, priority, timeout }) => ({
        name,
        queue,
        mode,
        attempts,
        priority,
        timeout,
      })),
    });
    await this.#declareLimits();
    // A stop() while the store was answering has shut down what ran: start nothing more.
    if (this.#stopping) return;
    this.#producer.start();
    await this.#producer.learnLimits();
    if (this.#stopping) return;
    this.#offCancelled = this.store.on(
      'job:cancelled',
      (event) =>
        this.#producer.dropWaiting(event.id) || this.#active.get(event.id)?.abort('cancelled'),
    );
    for (const service of this.#services) service.start();
    if (this.#options.blockThreshold > 0) this.#watchdog.start();
    await this.#heartbeat.beat();
    if (this.#stopping) return;
    this.#log.info(
      { queues: Object.fromEntries(this.#capacity), store: this.store.description },
      'worker started',
    );
    await this.#rescuer.rescue();
    await this.#producer.fill();
  }

  /**
   * Writes the limits its tasks declare as the declared layer of each served queue. Queues whose
   * tasks declare nothing are left as they are: their limits may come from elsewhere.
   */
  async #declareLimits(): Promise<void> {
    for (const [queue, limits] of this.#declared) {
      if (this.#capacity.has(queue))
        await this.store.limitsSet({ queue, layer: 'declared', limits });
    }
  }

  /** Whether {@link pause} holds this worker's claims. */
  get paused(): boolean {
    return this.#producer.paused;
  }

  /**
   * Stops claiming jobs, for this worker only (other workers, and the queues in the store, are not
   * touched; `queue.pause(name)` pauses a queue for every worker). Jobs it runs, and those it has
   * claimed ahead, run to their end. Resolves once a claim in flight has settled: from then on it
   * starts nothing new it did not hold. Before `start()`, start claims nothing until `resume()`.
   */
  async pause(): Promise<void> {
    if (this.#producer.paused) return;
    await this.#producer.pause();
    this.#log.info('worker paused');
  }

  /** Claims again after {@link pause}, looking for work at once. Does nothing when not paused. */
  resume(): void {
    if (!this.#producer.paused) return;
    this.#producer.resume();
    this.#log.info('worker resumed');
  }

  /**
   * Runs what is due and stops: starts the worker (resuming it if paused), runs jobs until none is
   * running and a claim finds nothing more that is due, then stops it as {@link stop} does, and
   * resolves with what ran. Jobs that become due later (a retry's backoff, a delay) are left for
   * the next run. For scripts and cron-style one-shots; rejects with ERR_WORKER_STOPPED on a
   * worker stopped already. A `stop()` meanwhile ends it early, with what ran so far.
   */
  async runUntilIdle(): Promise<RunSummary> {
    if (this.#stopping)
      throw new OffloadError(
        ErrorCodes.WORKER_STOPPED,
        'runUntilIdle: this worker was stopped; create a new worker to run jobs again',
      );
    const tally = new RunTally();
    const onEnd = (_job: ClaimedJob, outcome: JobOutcome | null) => tally.add(outcome);
    this.on('job:end', onEnd);
    try {
      const idle = new Promise<void>((resolve) => (this.#onIdle = resolve));
      this.#producer.resume();
      await this.start();
      this.#producer.wake(true);
      await idle;
      await this.stop();
    } finally {
      this.#onIdle = undefined;
      this.off('job:end', onEnd);
    }
    return tally.summary();
  }

  /** Notes the end count as a claim is sent; a claim that finds nothing after the last end may mean idle. */
  #observeClaim(): ((jobs: number) => void) | undefined {
    if (!this.#onIdle) return undefined;
    const ends = this.#ends;
    return (jobs) => {
      if (jobs === 0 && ends === this.#ends && this.#runs === 0 && this.#producer.claimed === 0)
        this.#onIdle?.();
    };
  }

  /**
   * Stops claiming, lets running jobs finish for up to `shutdownGrace` ms, then aborts the rest and
   * releases their leases so another worker runs them at once. Safe to call twice.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#onIdle?.();
    for (const service of this.#services) service.stop();
    this.#producer.stop();
    clearTimeout(this.#startTimer);
    this.#offCancelled?.();
    this.#watchdog.stop();
    await this.#producer.drain();
    const settled = this.#whenIdle();
    const grace = new Promise<void>((resolve) =>
      setTimeout(resolve, this.#options.shutdownGrace).unref(),
    );
    await Promise.race([settled, grace]);
    if (this.#active.size > 0) {
      this.#log.warn(
        { jobs: [...this.#active.keys()] },
        'shutdown grace ran out; releasing the leases of running jobs',
      );
      for (const run of this.#active.values()) run.abort('shutdown');
      await settled;
    }
    await this.#recorder.drain();
    await this.#executors.close();
    await this.store
      .workerRemove({ id: this.id })
      .catch((error: unknown) =>
        this.#log.warn({ err: error }, 'could not remove this worker from the registry'),
      );
    this.#log.info('worker stopped');
  }

  async #whenIdle(): Promise<void> {
    while (this.#active.size > 0) {
      await new Promise<void>((resolve) => this.once('job:end', () => resolve()));
    }
  }

  #startJob(job: ClaimedJob): void {
    let task: Task;
    try {
      task = this.#tasks.get(job.task);
    } catch (error) {
      this.#log.warn(jobLogFields(job), (error as Error).message);
      void this.#recorder.record({
        kind: 'failed',
        lease: leaseOf(job, this.id),
        error: {
          name: 'OffloadError',
          message: (error as Error).message,
          code: ErrorCodes.TASK_NOT_FOUND,
        },
        retryAt: null,
      });
      return;
    }
    const run = new JobRun(job, task, this.#runDeps);
    this.#runs++;
    const placement = this.#executors.place(task);
    if (job.state === 'claimed') this.#markStarted(run, job);
    // A run of this job left behind by a cancel and a retry this worker never heard of: its lease
    // is fenced off already; stop it too.
    this.#active.get(job.id)?.abort('lease-lost');
    this.#active.set(job.id, run);
    this.#activeByQueue.set(job.queue, (this.#activeByQueue.get(job.queue) ?? 0) + 1);
    void this.#runJob(run, placement);
  }

  /**
   * Runs one job to its end, from `job:start` to `job:end`. Whatever throws on the way (a bug in a
   * step, a listener), the job's capacity is given back and `job:end` fires, so no run holds a slot
   * or `stop()` for ever. A run left without an outcome keeps its lease until it expires; then the
   * job runs again.
   */
  async #runJob(run: JobRun, placement: JobPlacement): Promise<void> {
    let outcome: JobOutcome | null = null;
    let durationMs = 0;
    try {
      this.emit('job:start', run.job, placement);
      outcome = await (this.#middleware
        ? this.#executeThrough(this.#middleware, run, placement)
        : this.#execute(run, placement));
      durationMs = performance.now() - run.startedAt;
    } catch (error) {
      this.#fail(
        error,
        `running job ${run.job.id} (task "${run.task.name}") failed in the worker; it runs again after its lease expires`,
        run.log,
      );
    } finally {
      this.#releaseCapacity(run);
      this.#producer.finished(run.job.queue);
    }
    try {
      this.#producer.startWaiting();
      if (outcome) await this.#record(run, outcome);
      this.#logEnd(run, outcome, durationMs);
    } catch (error) {
      this.#fail(
        error,
        `finishing job ${run.job.id} (task "${run.task.name}") failed in the worker`,
        run.log,
      );
    } finally {
      this.#runs--;
      this.#ends++;
      this.#producer.wake();
      this.emit('job:end', run.job, outcome);
    }
  }

  /** The run inside the worker's middleware (a separate path: a worker without any pays nothing). */
  async #executeThrough(
    middleware: readonly RunMiddleware[],
    run: JobRun,
    placement: JobPlacement,
  ): Promise<JobOutcome | null> {
    const { runThrough } = await (this.#middlewareModule ??= import('./run-middleware.ts'));
    return runThrough(middleware, run, placement.mode, this.id, () =>
      this.#execute(run, placement),
    );
  }

  async #execute(run: JobRun, placement: JobPlacement): Promise<JobOutcome | null> {
    const inline = placement.mode === 'inline';
    if (inline) this.#watchdog.begin(run.job.id, run.task.name);
    try {
      return await run.execute(
        this.#executors.of(run.task, placement.mode),
        describePlacement(placement),
      );
    } finally {
      if (inline) this.#watchdog.end(run.job.id);
    }
  }

  #releaseCapacity(run: JobRun): void {
    this.#unrecordedStarts.delete(run);
    if (this.#active.get(run.job.id) === run) this.#active.delete(run.job.id);
    this.#activeByQueue.set(run.job.queue, this.#activeByQueue.get(run.job.queue)! - 1);
  }

  async #record(run: JobRun, outcome: JobOutcome): Promise<void> {
    try {
      const accepted = await this.#recorder.record(outcome, run.job.queue);
      if (!accepted) run.log.warn('outcome refused: the job was cancelled or its lease moved on');
    } catch (error) {
      this.#fail(
        error,
        `recording the outcome of job ${run.job.id} failed; it will run again after its lease expires`,
        run.log,
      );
    }
  }

  /** The run's line at `info`; a pino child is made only when that level is on. */
  #logEnd(run: JobRun, outcome: JobOutcome | null, durationMs: number): void {
    if (!logsAt(this.#log, 'info')) return;
    logRunEnd(run.log, outcome, {
      job: run.job,
      attempt: run.lease.attempt,
      durationMs,
      decidedAt: run.decidedAt,
      abortReason: run.abortReason,
    });
  }

  /**
   * A job claimed ahead starts. Its start is recorded (it reads `running`) once it has run for
   * START_RECORD_DELAY_MS; a run that ends sooner (most runs of jobs claimed ahead, which are the
   * short ones) records its start with its outcome, so its row is written once, not twice.
   */
  #markStarted(run: JobRun, job: ClaimedJob): void {
    job.state = 'running';
    job.startedAt = this.store.clock.now();
    this.#unrecordedStarts.add(run);
    this.#startTimer ??= setTimeout(() => this.#recordStarts(), START_RECORD_DELAY_MS).unref();
  }

  #recordStarts(): void {
    this.#startTimer = undefined;
    for (const run of this.#unrecordedStarts) {
      this.#recorder
        .record({ kind: 'started', lease: run.lease })
        .catch((error: unknown) =>
          this.#fail(error, `recording the start of job ${run.job.id} failed`, run.log),
        );
    }
    this.#unrecordedStarts.clear();
  }

  #saveProgress(lease: LeaseRef, progress: string): Promise<void> {
    return this.store.jobSetProgress({ ...lease, progress }).then(
      () => undefined,
      (error: unknown) => this.#fail(error, 'saving progress failed'),
    );
  }

  #logMove(task: Task, placement: JobPlacement): void {
    this.#log.info(
      { task: task.name, mode: placement.mode, reason: placement.reason },
      `task "${task.name}" now runs ${placement.mode}: ${placement.reason}`,
    );
  }

  #reportBlock(block: LoopBlock): void {
    this.#log.warn({ blockedMs: block.durationMs, jobs: block.jobs }, describeBlock(block));
    this.emit('loop:blocked', block);
  }

  /** Logs (on `log`: a run's logger, for a failure about one job) and emits `error`. */
  #fail(error: unknown, message: string, log: Logger = this.#log): void {
    log.error({ err: error }, message);
    if (this.listenerCount('error') > 0)
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }
}

/** Creates a worker over a store. Call `start()` to begin and `stop()` to end. See {@link WorkerOptions}. */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options);
}
