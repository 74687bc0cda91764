import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import type { Task } from '../../task/task.ts';
import type { LogEntry } from './log-relay.ts';
import { PoolTaskContext, type TaskReports } from './pool-task-context.ts';
import {
  toWireError,
  type ChildMessage,
  type ParentMessage,
  type TaskReply,
  type TaskRequest,
} from './protocol.ts';

/** How the runtime talks to its pool: a thread's `parentPort` or a child process's IPC channel. */
export interface ChildPort {
  /** Sends one message; throws if it cannot be cloned. */
  post(message: ChildMessage): void;
  /** Sends one last message, then ends this thread or process with `code` once it is on its way. */
  postThenExit(message: ChildMessage, code: number): void;
  onMessage(handler: (message: ParentMessage) => void): void;
  /**
   * Waits a few microseconds for the parent's next message without giving up the thread, so a
   * worker that just answered is still awake when the next task comes. Optional: ports that cannot
   * peek (pipes, Web Workers) go straight back to their event loop.
   */
  nextMessage?(): ParentMessage | undefined;
}

/** What the runtime needs of a task: `defineTask` results qualify, and so do plain functions wrapped by name. */
export type RunnableTask = Pick<Task, 'name' | 'run' | 'timeout'>;

/** How the runtime fits its platform. */
export interface RunnerSettings {
  /** A task gives up its loop at `ctx.yield()` after holding it this long (ms). */
  sliceMs: number;
  /** Heap bytes in use, sent with every `done` message; undefined: not reported. */
  heapUsed: (() => number) | undefined;
  /** Runs `fn` once pending I/O has had a turn (`setImmediate` in Node). */
  defer: (fn: () => void) => void;
}

/**
 * How often (ms) a task that holds its loop sends its progress at most. No timer can fire while a
 * task holds the loop, so each `ctx.progress()` compares the clock; a progress bar needs no more.
 */
export const PROGRESS_EVERY_MS = 50;

/**
 * Runs the tasks a pool sends and answers in batches: one `done` message per turn carries every
 * reply and progress report gathered in it, except that a task holding its loop sends its progress
 * as it reports it, at most every {@link PROGRESS_EVERY_MS} ms. Platform-neutral: Node's threads
 * and processes and the browser's Web Workers each wrap it in their own port and start-up.
 */
export class ChildRuntime {
  readonly #port: ChildPort;
  readonly #tasks: Map<string, RunnableTask>;
  readonly #settings: RunnerSettings;
  readonly #running = new Map<number, PoolTaskContext>();
  /** When each running task's progress may next leave at once, without waiting for a turn. */
  readonly #progressDue = new Map<number, number>();
  readonly #reports: TaskReports = {
    progress: (id, value) => this.progress(id, value),
    log: (id, entry) => this.#log(id, entry),
  };
  readonly #nextTurn: () => Promise<void>;
  #replies: TaskReply[] = [];
  /** The latest report of each task not sent yet. */
  #progress: Map<number, unknown> | undefined;
  #inBatch = false;
  #flushQueued = false;
  #closing = false;

  constructor(port: ChildPort, tasks: readonly RunnableTask[], settings: RunnerSettings) {
    this.#port = port;
    this.#tasks = new Map(tasks.map((task) => [task.name, task]));
    this.#settings = settings;
    this.#nextTurn = () => new Promise((resolve) => settings.defer(resolve));
  }

  /** Nothing is running or waiting to be sent: the thread may wait for the next message in place. */
  get idle(): boolean {
    return this.#running.size === 0 && this.#replies.length === 0 && !this.#closing;
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
    if (!task)
      return this.#reply({
        id: request.id,
        ok: false,
        error: toWireError(notFound(request.task, this.#tasks)),
        runMs: 0,
      });
    const timeout = request.timeout >= 0 ? request.timeout : task.timeout;
    if (timeout > 0) this.#port.post({ t: 'started', id: request.id, timeout });
    const start = performance.now();
    const running = new PoolTaskContext(
      request,
      this.#reports,
      this.#settings.sliceMs,
      this.#nextTurn,
      start,
    );
    this.#running.set(request.id, running);
    this.#progressDue.set(request.id, start + PROGRESS_EVERY_MS);
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
    this.#progressDue.delete(id);
    this.#reply(
      ok ? { id, ok, value, runMs } : { id, ok: false, error: toWireError(value), runMs },
    );
    if (this.#closing) this.#exitIfIdle();
  }

  #reply(reply: TaskReply): void {
    this.#replies.push(reply);
    this.#scheduleFlush();
  }

  /**
   * Takes a report of a running task. It goes with the batch of this turn, replacing the task's
   * report not sent yet; but a task that has held the loop for {@link PROGRESS_EVERY_MS} since its
   * progress last left sends it now, for its loop may not turn again before it ends.
   */
  progress(id: number, value: unknown): void {
    const due = this.#progressDue.get(id);
    if (due === undefined) return;
    (this.#progress ??= new Map()).set(id, value);
    if (performance.now() >= due) this.#flush();
    else this.#scheduleFlush();
  }

  /**
   * Sends a log line at once, so it reaches the pool before the task's result and in the order
   * the task wrote it. Fields that cannot be sent are dropped; the line is kept.
   */
  #log(id: number, entry: LogEntry): void {
    if (!this.#running.has(id)) return;
    try {
      this.#port.post({ t: 'log', id, ...entry });
    } catch {
      this.#port.post({ t: 'log', id, level: entry.level, fields: undefined, msg: entry.msg });
    }
  }

  #scheduleFlush(): void {
    if (this.#inBatch) return;
    // Nothing else runs here, so nothing could join the batch: a lone task answers without a hop.
    if (this.#running.size === 0) return this.#flush();
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    this.#settings.defer(() => {
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
      progress: this.#progress && this.#progressSent(this.#progress),
      heapUsed: this.#settings.heapUsed?.(),
    };
    this.#replies = [];
    this.#progress = undefined;
    try {
      this.#port.post(message);
    } catch {
      this.#postOneByOne(message);
    }
  }

  /** The reports as the message carries them; their tasks may send again {@link PROGRESS_EVERY_MS} from now. */
  #progressSent(progress: Map<number, unknown>): Array<[number, unknown]> {
    const due = performance.now() + PROGRESS_EVERY_MS;
    for (const id of progress.keys()) if (this.#progressDue.has(id)) this.#progressDue.set(id, due);
    return [...progress];
  }

  /** A batch that failed to clone: send each part alone, and turn what cannot be cloned into errors. */
  #postOneByOne(message: Extract<ChildMessage, { t: 'done' }>): void {
    for (const reply of message.replies) {
      try {
        this.#port.post({ ...message, replies: [reply], progress: undefined });
      } catch (error) {
        const problem = new OffloadError(
          ErrorCodes.INVALID_RESULT,
          `the result of task ${reply.id} cannot be sent back to the pool: ${(error as Error).message}. Return plain data (structured-cloneable values)`,
        );
        this.#port.post({
          ...message,
          replies: [{ id: reply.id, ok: false, error: toWireError(problem), runMs: reply.runMs }],
          progress: undefined,
        });
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
    this.#port.postThenExit(
      { t: 'done', replies: [], progress: undefined, heapUsed: undefined },
      0,
    );
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function notFound(name: string, tasks: Map<string, RunnableTask>): OffloadError {
  return new OffloadError(
    ErrorCodes.TASK_NOT_FOUND,
    `the task module exports no task named "${name}"; it exports: ${[...tasks.keys()].join(', ')}`,
    {
      details: { task: name },
    },
  );
}
