import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { callSafely } from '../pool/shared/call-safely.ts';
import { PoolStatsRecorder, type PoolStats } from '../pool/shared/pool-stats.ts';
import { fromWireError, type ChildMessage, type TaskReply } from '../pool/shared/protocol.ts';
import { checkRunOptions, poolClosed, refusal, stopError } from '../pool/shared/run-checks.ts';
import { StartBreaker } from '../pool/shared/start-breaker.ts';
import { TaskQueue } from '../pool/shared/task-queue.ts';
import type { Task } from '../task/task.ts';
import { BrowserTask } from './browser-task.ts';
import type { BrowserPool, BrowserRunOptions } from './contract.ts';
import { describeLoadFailure, moduleError } from './load-failure.ts';
import type { ResolvedBrowserOptions } from './options.ts';
import { WorkerSlot } from './worker-slot.ts';

type Waiter = { resolve: () => void; reject: (error: Error) => void };

/**
 * A pool of module Web Workers. Tasks wait in one FIFO line; each ready worker takes one at a time.
 * A timed-out or cancelled task's worker is terminated and replaced; a worker that crashes fails only
 * its own task; workers that cannot start open a breaker so they are not respawned without end.
 */
export class WebWorkerPool implements BrowserPool {
  readonly mode = 'thread' as const;
  readonly #options: ResolvedBrowserOptions;
  readonly #slots: WorkerSlot[] = [];
  readonly #queue = new TaskQueue<BrowserTask>();
  readonly #stats = new PoolStatsRecorder();
  readonly #breaker = new StartBreaker();
  #nextId = 1;
  #nextWorker = 1;
  #accepting = true;
  #destroyed = false;
  #closing: Promise<void> | undefined;
  #readyWaiters: Waiter[] = [];
  #drainWaiters: Array<() => void> = [];
  /** Cancels a run whose signal aborted (one function shared by every run). */
  readonly #cancel = (task: BrowserTask) => this.#abandon(task, 'cancelled');

  constructor(options: ResolvedBrowserOptions) {
    this.#options = options;
    this.#replenish();
  }

  run(task: Task | string, payload?: unknown, options?: BrowserRunOptions): Promise<never> {
    const name = typeof task === 'string' ? task : task?.name;
    const problem = checkRunOptions(name, options) ?? this.#refusal(options);
    if (problem) return Promise.reject(problem);
    const pending = new BrowserTask(
      this.#nextId++,
      name,
      payload,
      options?.timeout ?? this.#options.taskTimeout ?? -1,
      options,
    );
    pending.cancelOnAbort(this.#cancel);
    this.#queue.push(pending);
    this.#pump();
    return pending.promise;
  }

  #refusal(options: BrowserRunOptions | undefined): Error | undefined {
    const queued = this.#queue.size;
    return refusal(
      {
        label: 'browser',
        accepting: this.#accepting,
        breaker: this.#breaker,
        full: queued >= this.#options.maxQueue,
        queued,
      },
      options?.signal,
    );
  }

  ready(): Promise<void> {
    if (this.#slots.some((slot) => slot.state === 'ready')) return Promise.resolve();
    const broken = this.#blocked();
    if (broken) return Promise.reject(broken);
    if (!this.#accepting) return Promise.reject(poolClosed('browser'));
    return new Promise((resolve, reject) => {
      this.#readyWaiters.push({ resolve, reject });
      if (this.#starting() === 0) this.#start();
    });
  }

  stats(): PoolStats {
    const running = this.#slots.filter((slot) => slot.task).length;
    const base = {
      mode: this.mode,
      workers: this.#slots.length,
      queued: this.#queue.size,
      running,
    };
    return this.#stats.snapshot(
      base,
      this.#slots.map((slot) => slot.startedAt),
    );
  }

  close(): Promise<void> {
    this.#accepting = false;
    this.#closing ??= new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
      this.#checkDrained();
    }).then(() => {
      this.#destroyed = true;
      for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(poolClosed('browser'));
      for (const slot of [...this.#slots]) this.#end(slot, undefined);
    });
    return this.#closing;
  }

  async destroy(): Promise<void> {
    this.#accepting = false;
    this.#destroyed = true;
    const error = poolClosed('browser', 'destroyed');
    for (const task of this.#queue.drain()) task.settle(false, error);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
    for (const slot of [...this.#slots]) {
      slot.task?.settle(false, error);
      this.#end(slot, undefined);
    }
  }

  // ── scheduling ────────────────────────────────────────────────────────────────────────────

  #pump(): void {
    while (this.#queue.size > 0) {
      const slot = this.#slots.find((candidate) => candidate.state === 'ready' && !candidate.task);
      if (slot) this.#dispatch(slot);
      else if (!this.#grow()) return;
    }
  }

  /** Starts a worker if the waiting tasks outnumber the workers on their way. */
  #grow(): boolean {
    if (this.#destroyed || this.#starting() >= this.#queue.size) return false;
    if (this.#slots.length >= this.#options.maxWorkers || this.#blocked()) return false;
    return this.#start() !== undefined;
  }

  #dispatch(slot: WorkerSlot): void {
    const task = this.#queue.shift();
    if (!task) return;
    try {
      slot.worker.postMessage({ t: 'run', tasks: [task.request()] }, task.options?.transfer ?? []);
    } catch (error) {
      const message = `the payload of task "${task.task}" cannot be sent to a web worker (${(error as Error).message}); send structured-cloneable data`;
      task.settle(
        false,
        new OffloadError(ErrorCodes.INVALID_PAYLOAD, message, {
          cause: error,
          details: { task: task.task },
        }),
      );
      return;
    }
    clearTimeout(slot.timer);
    slot.task = task;
    task.slot = slot;
  }

  // ── workers ───────────────────────────────────────────────────────────────────────────────

  /** The start-up error while the breaker is open. */
  #blocked(): Error | undefined {
    return this.#breaker.blocking(performance.now());
  }

  #starting(): number {
    return this.#slots.filter((slot) => slot.state === 'starting').length;
  }

  #replenish(): void {
    while (this.#accepting && this.#slots.length < this.#options.minWorkers && !this.#blocked()) {
      if (!this.#start()) return;
    }
  }

  #start(): WorkerSlot | undefined {
    const { module, startTimeout } = this.#options;
    const label = `web worker ${this.#nextWorker++}`;
    let worker: Worker;
    try {
      worker = new Worker(module, { type: 'module', name: label });
    } catch (error) {
      this.#startFailed(
        moduleError(module, `cannot start as a module worker: ${(error as Error).message}`, error),
        true,
      );
      return undefined;
    }
    const slot = new WorkerSlot(worker, label);
    this.#slots.push(slot);
    this.#stats.counts.workersStarted++;
    worker.onmessage = (event) => this.#onMessage(slot, event.data as ChildMessage);
    worker.onerror = (event) => this.#onError(slot, event);
    worker.onmessageerror = () =>
      this.#end(slot, slot.crashError(undefined, 'sent a message that could not be read'));
    slot.timer = setTimeout(
      () =>
        this.#end(
          slot,
          moduleError(module, `did not call serve() within ${startTimeout} ms (startTimeout)`),
        ),
      startTimeout,
    );
    return slot;
  }

  #onMessage(slot: WorkerSlot, message: ChildMessage): void {
    switch (message.t) {
      case 'ready':
        return this.#onReady(slot);
      case 'started':
        return this.#onStarted(slot, message.id, message.timeout);
      case 'done':
        return this.#onDone(slot, message.replies, message.progress);
      case 'log':
        return; // Pages have no worker logger: a task's ctx.logger lines are dropped.
      case 'init-error':
        return this.#end(slot, fromWireError(message.error));
      case 'fatal':
        return this.#end(slot, slot.crashError(fromWireError(message.error), 'crashed'));
    }
  }

  #onError(slot: WorkerSlot, event: Event): void {
    if (slot.state === 'ready') {
      const message = (event as ErrorEvent).message || 'an error event without details';
      return this.#end(slot, slot.crashError(undefined, `crashed: ${message}`));
    }
    clearTimeout(slot.timer);
    void describeLoadFailure(this.#options.module, event).then((error) => this.#end(slot, error));
  }

  #onReady(slot: WorkerSlot): void {
    if (slot.state !== 'starting') return;
    slot.state = 'ready';
    clearTimeout(slot.timer);
    this.#breaker.success();
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    this.#idle(slot);
    this.#pump();
  }

  #onStarted(slot: WorkerSlot, id: number, timeout: number): void {
    const task = slot.task;
    if (task?.id === id && !task.settled)
      task.timer = setTimeout(() => this.#abandon(task, 'timeout'), timeout);
  }

  #onDone(
    slot: WorkerSlot,
    replies: TaskReply[],
    progress: Array<[number, unknown]> | undefined,
  ): void {
    const task = slot.task;
    for (const [id, value] of progress ?? []) {
      if (task?.id === id && !task.settled && task.options?.onProgress)
        callSafely(task.options.onProgress, value);
    }
    const reply = replies.find((candidate) => candidate.id === task?.id);
    if (!task || !reply) return;
    slot.task = undefined;
    this.#stats.task(reply.runMs, performance.now() - task.submittedAt);
    this.#stats.counts[reply.ok ? 'completed' : 'failed']++;
    task.settle(reply.ok, reply.ok ? reply.value : fromWireError(reply.error));
    this.#idle(slot);
    this.#pump();
    this.#checkDrained();
  }

  /** Gives up on a task: rejects it now and, if a worker runs it, terminates that worker. */
  #abandon(task: BrowserTask, reason: 'cancelled' | 'timeout'): void {
    if (task.settled) return;
    const error = stopError(
      task.task,
      reason,
      task.options?.signal,
      '; its web worker was terminated',
    );
    this.#stats.counts[reason === 'timeout' ? 'timedOut' : 'cancelled']++;
    task.settle(false, error);
    if (task.slot?.task === task) this.#end(task.slot, undefined);
    else this.#queue.forget(task);
    this.#checkDrained();
  }

  #idle(slot: WorkerSlot): void {
    if (this.#slots.length <= this.#options.minWorkers) return;
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      if (!slot.task && this.#slots.length > this.#options.minWorkers) this.#end(slot, undefined);
    }, this.#options.idleTimeout);
  }

  /**
   * Terminates a worker and forgets it. `error` says it died unexpectedly: its task rejects with it,
   * and if it never got ready, it counts against the start breaker. Then the pool tops itself up.
   */
  #end(slot: WorkerSlot, error: Error | undefined): void {
    if (slot.state === 'dead') return;
    const wasStarting = slot.state === 'starting';
    slot.state = 'dead';
    clearTimeout(slot.timer);
    slot.worker.terminate();
    this.#slots.splice(this.#slots.indexOf(slot), 1);
    this.#stats.workerEnded(slot.startedAt);
    const task = slot.task;
    slot.task = undefined;
    if (error) {
      this.#stats.counts.workersCrashed++;
      if (task?.settle(false, error)) this.#stats.counts.crashed++;
      if (wasStarting) this.#startFailed(error, false);
    }
    this.#checkDrained();
    if (this.#destroyed) return;
    this.#replenish();
    this.#pump();
  }

  /** A worker could not start: count it, and if the breaker opens fail everything that waits. */
  #startFailed(error: Error, immediately: boolean): void {
    this.#breaker.failure(error, performance.now(), immediately);
    const broken = this.#blocked();
    if (!broken) {
      if (this.#readyWaiters.length > 0 && this.#starting() === 0) this.#start();
      return;
    }
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(broken);
    for (const task of this.#queue.drain()) task.settle(false, broken);
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (
      this.#drainWaiters.length === 0 ||
      this.#queue.size > 0 ||
      this.#slots.some((slot) => slot.task)
    )
      return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }
}
