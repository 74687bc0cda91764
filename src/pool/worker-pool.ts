import { EventEmitter } from 'node:events';
import type { TransferListItem } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import type { Pool, PoolEvents, RunOptions, WorkerExitReason } from './contract.ts';
import { callSafely } from './shared/call-safely.ts';
import { PendingTask } from './pending-task.ts';
import type { ResolvedPoolOptions } from './pool-options.ts';
import { TaskQueue } from './shared/task-queue.ts';
import { PoolStatsRecorder, type PoolStats } from './shared/pool-stats.ts';
import { PoolWorker } from './pool-worker.ts';
import { spawnProcess } from './process-handle.ts';
import { fromWireError, type ChildMessage, type TaskReply } from './shared/protocol.ts';
import { StartBreaker } from './shared/start-breaker.ts';
import { spawnThread } from './thread-handle.ts';
import type { ExitInfo } from './worker-handle.ts';
import { checkRunOptions, poolClosed, refusal, stopError } from './shared/run-checks.ts';

/** Work queued inside one worker that `tasksPerWorker: 'auto'` aims for, in ms of measured run time. */
const TARGET_QUEUED_MS = 8;
const MAX_AUTO_TASKS = 256;
/** How long a worker asked to close may take before it is killed. */
const CLOSE_GRACE_MS = 5_000;

/**
 * A pool of threads or child processes. Tasks wait in one FIFO line; each worker holds a few at a
 * time (sent in batches, answered in batches), so a busy worker never sleeps between tasks.
 */
export class WorkerPool extends EventEmitter<PoolEvents> implements Pool {
  readonly mode: ExecutionMode;
  readonly #options: ResolvedPoolOptions;
  readonly #spawn: typeof spawnThread;
  readonly #workers: PoolWorker[] = [];
  readonly #queue = new TaskQueue<PendingTask>();
  readonly #stats = new PoolStatsRecorder();
  readonly #breaker = new StartBreaker();
  #nextId = 1;
  #pumpQueued = false;
  #avgRunMs = -1;
  #accepting = true;
  #destroyed = false;
  #closing: Promise<void> | undefined;
  #readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #drainWaiters: Array<() => void> = [];
  /** Cancels a run whose signal aborted (one function shared by every run). */
  readonly #cancel = (task: PendingTask) => this.#abandon(task, 'cancelled');

  constructor(options: ResolvedPoolOptions) {
    super();
    this.mode = options.mode;
    this.#options = options;
    this.#spawn = options.mode === 'process' ? spawnProcess : spawnThread;
    this.#replenish();
  }

  run(task: Task | string, payload?: unknown, options?: RunOptions): Promise<never> {
    const name = typeof task === 'string' ? task : task?.name;
    const problem = checkRunOptions(name, options) ?? this.#refusal(options);
    if (problem) return Promise.reject(problem);
    const pending = new PendingTask(
      this.#nextId++,
      name,
      payload,
      options?.timeout ?? this.#options.taskTimeout ?? -1,
      options,
    );
    pending.cancelOnAbort(this.#cancel);
    this.#queue.push(pending);
    this.#schedulePump();
    return pending.promise;
  }

  #refusal(options: RunOptions | undefined): Error | undefined {
    const queued = this.#queue.size;
    return refusal(
      {
        label: this.mode,
        accepting: this.#accepting,
        breaker: this.#breaker,
        full: queued >= this.#options.maxQueue,
        queued,
      },
      options?.signal,
    );
  }

  ready(): Promise<void> {
    if (this.#workers.some((worker) => worker.state === 'ready')) return Promise.resolve();
    const broken = this.#breaker.blocking(performance.now());
    if (broken) return Promise.reject(broken);
    if (!this.#accepting) return Promise.reject(poolClosed(this.mode));
    if (!this.#workers.some((worker) => worker.state === 'starting')) this.#startWorker();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  stats(): PoolStats {
    let running = 0;
    for (const worker of this.#workers) running += worker.inFlight.size;
    const base = {
      mode: this.mode,
      workers: this.#workers.length,
      queued: this.#queue.size,
      running,
    };
    return this.#stats.snapshot(
      base,
      this.#workers.map((worker) => worker.startedAt),
    );
  }

  close(): Promise<void> {
    this.#accepting = false;
    this.#closing ??= (async () => {
      await this.#drained();
      await Promise.all([...this.#workers].map((worker) => this.#end(worker, 'closed')));
    })();
    return this.#closing;
  }

  async destroy(): Promise<void> {
    this.#accepting = false;
    this.#destroyed = true;
    const error = poolClosed(this.mode, 'destroyed');
    for (const task of this.#queue.drain()) task.settle(false, error);
    const workers = [...this.#workers];
    for (const worker of workers) {
      this.#beginExit(worker, 'closed');
      for (const task of worker.inFlight.values()) task.settle(false, error);
      worker.handle.kill();
    }
    this.#checkDrained();
    await Promise.all(workers.map((worker) => worker.exited));
  }

  // ── scheduling ────────────────────────────────────────────────────────────────────────────

  #schedulePump(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    queueMicrotask(() => this.#pump());
  }

  /** Hands waiting tasks to workers with room, starting workers when all are full. */
  #pump(): void {
    this.#pumpQueued = false;
    const limit = this.#tasksPerWorker();
    const batch = Math.max(1, Math.ceil(limit / 2));
    while (this.#queue.size > 0) {
      const worker = this.#pick(limit, batch) ?? this.#grow();
      if (!worker) return;
      this.#dispatch(worker, batch);
    }
  }

  #tasksPerWorker(): number {
    const fixed = this.#options.tasksPerWorker;
    if (fixed !== 'auto') return fixed;
    if (this.#avgRunMs < 0) return 2;
    return Math.max(
      1,
      Math.min(MAX_AUTO_TASKS, Math.floor(TARGET_QUEUED_MS / Math.max(this.#avgRunMs, 0.001))),
    );
  }

  /**
   * The ready worker with the fewest tasks, else a starting one, with room for a whole batch. A
   * worker refilled as each answer frees a slot would get many small messages, and each message
   * wakes a thread: a busy worker waits until half its tasks are done, then takes half a limit.
   */
  #pick(limit: number, batch: number): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    for (const worker of this.#workers) {
      if (!worker.open || limit - worker.inFlight.size < batch) continue;
      if (!best || rank(worker) < rank(best)) best = worker;
    }
    return best;
  }

  #grow(): PoolWorker | undefined {
    if (this.#destroyed || this.#liveCount() >= this.#options.maxWorkers) return undefined;
    if (this.#breaker.blocking(performance.now())) return undefined;
    return this.#startWorker();
  }

  #dispatch(worker: PoolWorker, count: number): void {
    const batch: PendingTask[] = [];
    while (batch.length < count) {
      const task = this.#queue.shift();
      if (!task) break;
      batch.push(task);
    }
    if (batch.length === 0) return;
    if (worker.inFlight.size === 0) this.#busy(worker);
    const output = this.#options.outputTail > 0;
    for (const task of batch) {
      task.worker = worker;
      if (output && task.options?.onOutput) task.outputFrom = worker.handle.output.offset;
      worker.inFlight.set(task.id, task);
    }
    try {
      worker.handle.send(
        { t: 'run', tasks: batch.map((task) => task.request()) },
        this.#transferList(batch),
      );
    } catch {
      for (const task of batch) this.#sendAlone(worker, task);
    }
  }

  /** A batch that could not be cloned: send each task alone and reject those that cannot be. */
  #sendAlone(worker: PoolWorker, task: PendingTask): void {
    try {
      worker.handle.send({ t: 'run', tasks: [task.request()] }, this.#transferList([task]));
    } catch (error) {
      worker.inFlight.delete(task.id);
      const message = `the payload of task "${task.task}" cannot be sent to a ${this.mode}: ${(error as Error).message}. Send structured-cloneable data (no functions, symbols or class instances with behaviour)`;
      task.settle(
        false,
        new OffloadError(ErrorCodes.INVALID_PAYLOAD, message, {
          cause: error,
          details: { task: task.task },
        }),
      );
      if (worker.inFlight.size === 0) this.#idle(worker);
    }
  }

  #transferList(batch: PendingTask[]): TransferListItem[] | undefined {
    if (this.mode !== 'thread') return undefined;
    let list: TransferListItem[] | undefined;
    for (const task of batch)
      if (task.options?.transfer) (list ??= []).push(...task.options.transfer);
    return list;
  }

  // ── workers ───────────────────────────────────────────────────────────────────────────────

  #liveCount(): number {
    let live = 0;
    for (const worker of this.#workers) if (worker.live) live++;
    return live;
  }

  #replenish(): void {
    while (
      this.#accepting &&
      this.#liveCount() < this.#options.minWorkers &&
      !this.#breaker.blocking(performance.now())
    ) {
      if (!this.#startWorker()) return;
    }
  }

  #startWorker(): PoolWorker | undefined {
    const worker = new PoolWorker();
    const options = this.#options;
    try {
      worker.handle = this.#spawn({
        config: {
          module: options.module,
          sliceMs: options.sliceMs,
          reportHeap: Number.isFinite(options.recycleHeapBytes),
        },
        resourceLimits: options.resourceLimits,
        execArgv: options.execArgv,
        env: options.env,
        forwardOutput: options.forwardOutput,
        outputTail: options.outputTail,
        onMessage: (message) => this.#onMessage(worker, message),
        onExit: (info) => this.#onExit(worker, info),
      });
    } catch (error) {
      const failure = new OffloadError(
        ErrorCodes.WORKER_CRASHED,
        `could not start a ${this.mode} worker: ${(error as Error).message}`,
        { cause: error, details: { reason: 'start-failed' } },
      );
      this.#startFailed(failure, true);
      return undefined;
    }
    this.#workers.push(worker);
    this.#stats.counts.workersStarted++;
    this.emit('worker:start', { worker: worker.handle.label });
    return worker;
  }

  #onMessage(worker: PoolWorker, message: ChildMessage): void {
    switch (message.t) {
      case 'done':
        return this.#onDone(worker, message.replies, message.progress, message.heapUsed);
      case 'started':
        return this.#onStarted(worker, message.id, message.timeout);
      case 'log':
        return this.#onLog(worker, message);
      case 'ready':
        return this.#onReady(worker);
      case 'init-error':
        worker.initError = fromWireError(message.error);
        return;
      case 'fatal':
        worker.fatal = fromWireError(message.error);
        return;
    }
  }

  #onReady(worker: PoolWorker): void {
    if (worker.state !== 'starting') return;
    worker.state = 'ready';
    this.#breaker.success();
    this.emit('worker:ready', { worker: worker.handle.label });
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    if (worker.inFlight.size === 0) this.#idle(worker);
    this.#pump();
  }

  #onStarted(worker: PoolWorker, id: number, timeout: number): void {
    const task = worker.inFlight.get(id);
    if (task && !task.settled)
      task.timer = setTimeout(() => this.#abandon(task, 'timeout'), timeout);
  }

  #onDone(
    worker: PoolWorker,
    replies: TaskReply[],
    progress: Array<[number, unknown]> | undefined,
    heapUsed: number | undefined,
  ): void {
    if (progress) this.#onProgress(worker, progress);
    const now = performance.now();
    for (const reply of replies) {
      const task = worker.inFlight.get(reply.id);
      if (!task) continue;
      worker.inFlight.delete(reply.id);
      worker.ran++;
      this.#stats.task(reply.runMs, now - task.submittedAt);
      this.#avgRunMs =
        this.#avgRunMs < 0 ? reply.runMs : this.#avgRunMs + (reply.runMs - this.#avgRunMs) * 0.1;
      if (task.abandoned) this.#release(worker, task);
      else this.#finish(task, reply);
    }
    if (
      worker.state === 'ready' &&
      (worker.ran >= this.#options.recycleTasks || (heapUsed ?? 0) > this.#options.recycleHeapBytes)
    ) {
      this.#retire(worker, 'recycled');
    }
    if (worker.inFlight.size === 0) this.#idle(worker);
    this.#pump();
    this.#checkDrained();
  }

  #onProgress(worker: PoolWorker, progress: Array<[number, unknown]>): void {
    for (const [id, value] of progress) {
      const task = worker.inFlight.get(id);
      if (task && !task.settled && task.options?.onProgress)
        callSafely(task.options.onProgress, value);
    }
  }

  #onLog(
    worker: PoolWorker,
    { id, level, fields, msg }: Extract<ChildMessage, { t: 'log' }>,
  ): void {
    const task = worker.inFlight.get(id);
    if (task && !task.settled && task.options?.onLog)
      callSafely(task.options.onLog, { level, fields, msg });
  }

  #finish(task: PendingTask, reply: TaskReply): void {
    if (this.mode === 'process' && task.options?.onOutput) {
      // A child's stdout and stderr are separate pipes: let this turn's reads land before the tail is taken.
      task.answered = true;
      setImmediate(() => this.#settleReply(task, reply));
    } else {
      this.#settleReply(task, reply);
    }
  }

  #settleReply(task: PendingTask, reply: TaskReply): void {
    if (reply.ok) {
      this.#stats.counts.completed++;
      task.settle(true, reply.value);
    } else {
      this.#stats.counts.failed++;
      task.settle(false, fromWireError(reply.error));
    }
  }

  /** Gives up on a task: rejects it now, asks its worker to stop it, and ends the worker if it will not. */
  #abandon(task: PendingTask, reason: 'cancelled' | 'timeout'): void {
    if (task.settled || task.answered) return;
    const error = stopError(task.task, reason, task.options?.signal);
    this.#stats.counts[reason === 'timeout' ? 'timedOut' : 'cancelled']++;
    const worker = task.worker;
    task.settle(false, error);
    if (!worker) {
      this.#queue.forget(task);
      return this.#checkDrained();
    }
    task.abandoned = true;
    worker.stuck++;
    worker.handle.send({ t: 'cancel', id: task.id, reason });
    const grace = this.#options.cancelGrace;
    task.timer = setTimeout(() => {
      if (worker.inFlight.get(task.id) !== task) return;
      worker.killedFor = `task "${task.task}" did not stop within ${grace} ms of its ${reason === 'timeout' ? 'timeout' : 'cancellation'}`;
      worker.handle.kill();
    }, grace);
  }

  /** An abandoned task finally stopped: its worker may take work again. */
  #release(worker: PoolWorker, task: PendingTask): void {
    clearTimeout(task.timer);
    worker.stuck--;
  }

  #busy(worker: PoolWorker): void {
    clearTimeout(worker.idleTimer);
    worker.idleTimer = undefined;
    worker.handle.hold(true);
  }

  #idle(worker: PoolWorker): void {
    if (worker.state === 'retiring') return void this.#end(worker, worker.endReason ?? 'recycled');
    if (worker.state !== 'ready') return;
    worker.handle.hold(false);
    if (this.#liveCount() > this.#options.minWorkers && !worker.idleTimer) {
      worker.idleTimer = setTimeout(() => this.#retire(worker, 'idle'), this.#options.idleTimeout);
      worker.idleTimer.unref();
    }
  }

  #retire(worker: PoolWorker, reason: WorkerExitReason): void {
    if (!worker.live) return;
    worker.state = 'retiring';
    worker.endReason = reason;
    if (worker.inFlight.size === 0) void this.#end(worker, reason);
    this.#replenish();
    this.#schedulePump();
  }

  /** Asks a worker to exit, kills it if it has not after a grace, and resolves when it is gone. */
  #end(worker: PoolWorker, reason: WorkerExitReason): Promise<void> {
    if (worker.state === 'dead') return worker.exited;
    if (worker.state !== 'exiting') {
      this.#beginExit(worker, reason);
      worker.handle.send({ t: 'close' });
      setTimeout(() => worker.handle.kill(), CLOSE_GRACE_MS).unref();
    }
    return worker.exited;
  }

  /**
   * Takes a worker out of service until its exit is seen: it gets no new work, and it keeps the
   * event loop alive, even if an answer arrives first (#idle would unref a 'ready' worker, and the
   * program could then end while the pool waits for the exit).
   */
  #beginExit(worker: PoolWorker, reason: WorkerExitReason): void {
    worker.state = 'exiting';
    worker.endReason ??= reason;
    clearTimeout(worker.idleTimer);
    worker.handle.hold(true);
  }

  #onExit(worker: PoolWorker, info: ExitInfo): void {
    const wasStarting = worker.state === 'starting';
    this.#workers.splice(this.#workers.indexOf(worker), 1);
    clearTimeout(worker.idleTimer);
    this.#stats.workerEnded(worker.startedAt);
    const planned = worker.endReason !== undefined && !worker.killedFor;
    const reason: WorkerExitReason = worker.killedFor
      ? 'terminated'
      : planned
        ? worker.endReason!
        : wasStarting
          ? 'start-failed'
          : 'crashed';
    const error =
      planned && worker.inFlight.size === 0
        ? undefined
        : wasStarting && worker.initError
          ? worker.initError
          : worker.crashError(this.mode, info);
    for (const task of worker.inFlight.values()) {
      if (task.abandoned) clearTimeout(task.timer);
      else if (task.settle(false, error)) this.#stats.counts.crashed++;
    }
    worker.inFlight.clear();
    worker.state = 'dead';
    if (reason === 'recycled') this.#stats.counts.workersRecycled++;
    if (!planned) this.#stats.counts.workersCrashed++;
    this.emit('worker:exit', {
      worker: worker.handle.label,
      reason,
      code: info.code,
      signal: info.signal,
      error,
    });
    if (wasStarting && !planned) this.#startFailed(error!, false);
    worker.markExited();
    this.#checkDrained();
    if (this.#destroyed) return;
    this.#replenish();
    this.#pump();
  }

  /** A worker could not start: count it, and if the breaker opens fail everything that waits. */
  #startFailed(error: Error, immediately: boolean): void {
    this.#breaker.failure(error, performance.now(), immediately);
    const broken = this.#breaker.blocking(performance.now());
    if (!broken) return;
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(broken);
    for (const task of this.#queue.drain()) task.settle(false, broken);
    this.#checkDrained();
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      this.#drainWaiters.push(resolve);
      this.#checkDrained();
    });
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || this.#queue.size > 0) return;
    if (this.#workers.some((worker) => worker.inFlight.size > 0)) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }
}

/** Ready workers before starting ones, then the fewest tasks in flight. */
function rank(worker: PoolWorker): number {
  return (worker.state === 'ready' ? 0 : 1_000_000) + worker.inFlight.size;
}
