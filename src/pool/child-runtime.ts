import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { ErrorCodes, OffloadError } from '../errors.ts';
import type { Task } from '../task.ts';
import { loadTaskModule } from '../task-module.ts';
import { PoolTaskContext } from './pool-task-context.ts';
import { toWireError, type ChildMessage, type ParentMessage, type TaskReply, type TaskRequest, type WorkerConfig } from './protocol.ts';

/** How the runtime talks to its pool: a thread's `parentPort` or a child process's IPC channel. */
export interface ChildPort {
  /** Sends one message; throws if it cannot be cloned. */
  post(message: ChildMessage): void;
  /** Sends one last message, then ends this thread or process with `code` once it is on its way. */
  postThenExit(message: ChildMessage, code: number): void;
  onMessage(handler: (message: ParentMessage) => void): void;
}

/**
 * The inside of a pool worker (thread or child process): loads the task module once, then runs
 * the tasks it is sent and answers in batches. Crashes it cannot contain (an uncaught exception,
 * an unhandled rejection) are reported to the pool before the worker ends.
 */
export async function runWorker(port: ChildPort, config: WorkerConfig): Promise<void> {
  const early: ParentMessage[] = [];
  const started: { runtime?: ChildRuntime } = {};
  port.onMessage((message) => (started.runtime ? started.runtime.handle(message) : early.push(message)));
  const fatal = (error: unknown) => port.postThenExit({ t: 'fatal', error: toWireError(error) }, 1);
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  let tasks: Task[];
  try {
    tasks = await loadTaskModule(config.module);
  } catch (error) {
    port.postThenExit({ t: 'init-error', error: toWireError(error) }, 1);
    return;
  }
  const runtime = (started.runtime = new ChildRuntime(port, tasks, config));
  port.post({ t: 'ready', tasks: tasks.map(({ name, timeout }) => ({ name, timeout })) });
  for (const message of early) runtime.handle(message);
}

class ChildRuntime {
  readonly #port: ChildPort;
  readonly #tasks: Map<string, Task>;
  readonly #config: WorkerConfig;
  readonly #running = new Map<number, PoolTaskContext>();
  #replies: TaskReply[] = [];
  #progress: Array<[number, unknown]> | undefined;
  #inBatch = false;
  #flushQueued = false;
  #closing = false;

  constructor(port: ChildPort, tasks: Task[], config: WorkerConfig) {
    this.#port = port;
    this.#tasks = new Map(tasks.map((task) => [task.name, task]));
    this.#config = config;
  }

  handle(message: ParentMessage): void {
    if (message.t === 'run') {
      this.#inBatch = true;
      for (const request of message.tasks) this.#start(request);
      this.#inBatch = false;
      this.#flush();
    } else if (message.t === 'cancel') {
      this.#running.get(message.id)?.abort(message.reason);
    } else {
      this.#closing = true;
      this.#exitIfIdle();
    }
  }

  #start(request: TaskRequest): void {
    const task = this.#tasks.get(request.task);
    if (!task) return this.#reply({ id: request.id, ok: false, error: toWireError(notFound(request.task, this.#tasks)), runMs: 0 });
    const timeout = request.timeout >= 0 ? request.timeout : task.timeout;
    if (timeout > 0) this.#port.post({ t: 'started', id: request.id, timeout });
    const running = new PoolTaskContext(request, (value) => this.progress(request.id, value), this.#config.sliceMs);
    this.#running.set(request.id, running);
    const start = performance.now();
    let value: unknown;
    try {
      value = task.run(request.payload, running);
    } catch (error) {
      return this.#end(request.id, false, error, start);
    }
    if (isThenable(value)) {
      value.then(
        (result) => this.#end(request.id, true, result, start),
        (error: unknown) => this.#end(request.id, false, error, start),
      );
    } else {
      this.#end(request.id, true, value, start);
    }
  }

  #end(id: number, ok: boolean, value: unknown, start: number): void {
    const runMs = performance.now() - start;
    this.#running.delete(id);
    this.#reply(ok ? { id, ok, value, runMs } : { id, ok: false, error: toWireError(value), runMs });
    if (this.#closing) this.#exitIfIdle();
  }

  #reply(reply: TaskReply): void {
    this.#replies.push(reply);
    this.#scheduleFlush();
  }

  progress(id: number, value: unknown): void {
    if (!this.#running.has(id)) return;
    (this.#progress ??= []).push([id, value]);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#inBatch || this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  /** Sends every reply and progress report gathered so far as one message. */
  #flush(): void {
    if (this.#replies.length === 0 && !this.#progress) return;
    const message: ChildMessage = {
      t: 'done',
      replies: this.#replies,
      progress: this.#progress,
      heapUsed: this.#config.reportHeap ? v8.getHeapStatistics().used_heap_size : undefined,
    };
    this.#replies = [];
    this.#progress = undefined;
    try {
      this.#port.post(message);
    } catch {
      this.#postOneByOne(message);
    }
  }

  /** A batch that failed to clone: send each part alone, and turn what cannot be cloned into errors. */
  #postOneByOne(message: Extract<ChildMessage, { t: 'done' }>): void {
    for (const reply of message.replies) {
      try {
        this.#port.post({ ...message, replies: [reply], progress: undefined });
      } catch (error) {
        const problem = new OffloadError(ErrorCodes.INVALID_RESULT, `the result of task ${reply.id} cannot be sent back to the pool: ${(error as Error).message}. Return plain data (structured-cloneable values)`);
        this.#port.post({ ...message, replies: [{ id: reply.id, ok: false, error: toWireError(problem), runMs: reply.runMs }], progress: undefined });
      }
    }
    for (const item of message.progress ?? []) {
      try {
        this.#port.post({ t: 'done', replies: [], progress: [item], heapUsed: undefined });
      } catch {
        // A progress value that cannot be cloned is dropped; the task goes on.
      }
    }
  }

  #exitIfIdle(): void {
    if (this.#running.size > 0) return;
    this.#flush();
    this.#port.postThenExit({ t: 'done', replies: [], progress: undefined, heapUsed: undefined }, 0);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function notFound(name: string, tasks: Map<string, Task>): OffloadError {
  return new OffloadError(ErrorCodes.TASK_NOT_FOUND, `the task module exports no task named "${name}"; it exports: ${[...tasks.keys()].join(', ')}`, {
    details: { task: name },
  });
}
