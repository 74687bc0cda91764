import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import { loadTaskModule } from '../task/load-task-module-node.ts';
import type { Pool, PoolEvents, RunOptions } from './contract.ts';
import { callSafely } from './shared/call-safely.ts';
import { PendingTask } from './pending-task.ts';
import type { ResolvedPoolOptions } from './pool-options.ts';
import { TaskQueue } from './shared/task-queue.ts';
import { PoolStatsRecorder, type PoolStats } from './shared/pool-stats.ts';
import { PoolTaskContext } from './shared/pool-task-context.ts';
import { checkRunOptions, poolClosed, refusal, stopError } from './shared/run-checks.ts';
import { StartBreaker } from './shared/start-breaker.ts';

/**
 * The pool interface over this event loop: tasks run as coroutines, up to `maxWorkers` at once.
 * Nothing is isolated and nothing can be killed: a timed-out or cancelled task is rejected at
 * once and its `ctx.signal` aborts, but it runs on until it returns.
 */
export class InlinePool extends EventEmitter<PoolEvents> implements Pool {
  readonly mode: ExecutionMode = 'inline';
  readonly #options: ResolvedPoolOptions;
  readonly #queue = new TaskQueue<PendingTask>();
  readonly #stats = new PoolStatsRecorder();
  readonly #breaker = new StartBreaker();
  readonly #started = new Map<
    number,
    { pending: PendingTask; context: PoolTaskContext | undefined }
  >();
  readonly #createdAt = performance.now();
  #tasks: Map<string, Task> | undefined;
  #loading: Promise<Map<string, Task>> | undefined;
  #nextId = 1;
  #running = 0;
  #accepting = true;
  #closing: Promise<void> | undefined;
  #drainWaiters: Array<() => void> = [];
  /** Cancels a run whose signal aborted (one function shared by every run). */
  readonly #cancel = (task: PendingTask) => this.#abandon(task, 'cancelled');

  constructor(options: ResolvedPoolOptions) {
    super();
    this.#options = options;
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
    if (this.#running < this.#options.maxWorkers) void this.#execute(pending);
    else this.#queue.push(pending);
    return pending.promise;
  }

  #refusal(options: RunOptions | undefined): Error | undefined {
    const queued = this.#queue.size;
    const full = this.#running >= this.#options.maxWorkers && queued >= this.#options.maxQueue;
    return refusal(
      { label: 'inline', accepting: this.#accepting, breaker: this.#breaker, full, queued },
      options?.signal,
    );
  }

  async ready(): Promise<void> {
    await this.#load();
  }

  stats(): PoolStats {
    const base = { mode: this.mode, workers: 0, queued: this.#queue.size, running: this.#running };
    return this.#stats.snapshot(base, [this.#createdAt]);
  }

  close(): Promise<void> {
    this.#accepting = false;
    this.#closing ??= new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
      this.#checkDrained();
    });
    return this.#closing;
  }

  async destroy(): Promise<void> {
    this.#accepting = false;
    const error = poolClosed('inline', 'destroyed');
    for (const task of this.#queue.drain()) task.settle(false, error);
    for (const { pending, context } of this.#started.values()) {
      context?.abort('cancelled');
      pending.settle(false, error);
    }
    this.#checkDrained(true);
  }

  #load(): Promise<Map<string, Task>> {
    if (this.#tasks) return Promise.resolve(this.#tasks);
    const broken = this.#breaker.blocking(performance.now());
    if (broken) return Promise.reject(broken);
    this.#loading ??= loadTaskModule(this.#options.module).then(
      (tasks) => {
        this.#breaker.success();
        return (this.#tasks = new Map(tasks.map((task) => [task.name, task])));
      },
      (error: Error) => {
        this.#loading = undefined;
        this.#breaker.failure(error, performance.now());
        throw error;
      },
    );
    return this.#loading;
  }

  async #execute(pending: PendingTask): Promise<void> {
    this.#running++;
    this.#started.set(pending.id, { pending, context: undefined });
    try {
      const tasks = this.#tasks ?? (await this.#load());
      const task = tasks.get(pending.task);
      if (!task) throw notFound(pending.task, tasks);
      if (!pending.settled) await this.#runTask(pending, task);
    } catch (error) {
      if (pending.settle(false, error)) this.#stats.counts.failed++;
    } finally {
      this.#started.delete(pending.id);
      this.#running--;
      this.#next();
    }
  }

  async #runTask(pending: PendingTask, task: Task): Promise<void> {
    const { onProgress, onLog } = pending.options ?? {};
    const context = new PoolTaskContext(
      { id: pending.id, task: pending.task, job: pending.options?.job },
      {
        progress: (_, value) => !pending.settled && onProgress && callSafely(onProgress, value),
        log: (_, entry) => !pending.settled && onLog && callSafely(onLog, entry),
      },
      this.#options.sliceMs,
      nextTurn,
    );
    this.#started.set(pending.id, { pending, context });
    const timeout = pending.timeout >= 0 ? pending.timeout : task.timeout;
    if (timeout > 0) pending.timer = setTimeout(() => this.#abandon(pending, 'timeout'), timeout);
    const start = performance.now();
    try {
      const value = await task.run(pending.payload, context);
      this.#record(pending, start);
      if (pending.settle(true, value)) this.#stats.counts.completed++;
    } catch (error) {
      this.#record(pending, start);
      if (pending.settle(false, error)) this.#stats.counts.failed++;
    }
  }

  #record(pending: PendingTask, start: number): void {
    const now = performance.now();
    this.#stats.task(now - start, now - pending.submittedAt);
  }

  #abandon(pending: PendingTask, reason: 'cancelled' | 'timeout'): void {
    if (pending.settled) return;
    this.#queue.forget(pending);
    this.#started.get(pending.id)?.context?.abort(reason);
    this.#stats.counts[reason === 'timeout' ? 'timedOut' : 'cancelled']++;
    const error = stopError(
      pending.task,
      reason,
      pending.options?.signal,
      '; in inline mode it cannot be stopped, only its signal aborts',
    );
    pending.settle(false, error);
    this.#checkDrained();
  }

  #next(): void {
    while (this.#running < this.#options.maxWorkers && this.#queue.size > 0) {
      const pending = this.#queue.shift();
      if (pending) void this.#execute(pending);
    }
    this.#checkDrained();
  }

  #checkDrained(force = false): void {
    if (!force && (this.#running > 0 || this.#queue.size > 0)) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }
}

function notFound(name: string, tasks: Map<string, Task>): OffloadError {
  return new OffloadError(
    ErrorCodes.TASK_NOT_FOUND,
    `the task module exports no task named "${name}"; it exports: ${[...tasks.keys()].join(', ')}`,
    {
      details: { task: name },
    },
  );
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
