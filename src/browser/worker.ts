/**
 * offload/browser/worker: the inside of a browser pool's worker. A module worker script imports its
 * tasks and hands them to `serve`:
 *
 *   import { serve } from 'offload/browser/worker';
 *   import * as tasks from './tasks.js';
 *   serve(tasks);
 */
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { toWireError, type ChildMessage, type ParentMessage } from '../pool/shared/protocol.ts';
import { ChildRuntime, type ChildPort, type RunnableTask } from '../pool/shared/child-runtime.ts';
import { isTask } from '../task/task.ts';

/** Tasks as `serve` takes them: a module namespace or object of exports, or an array of tasks. */
export type TaskSource = Readonly<Record<string, unknown>> | readonly unknown[];

/** Options of {@link serve}. */
export interface ServeOptions {
  /** A task gives up its loop at `ctx.yield()` after holding it this long (ms). Default 10. */
  sliceMs?: number;
}

/** The part of a dedicated worker's global scope that `serve` uses. */
interface WorkerScope {
  postMessage(message: ChildMessage): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<ParentMessage>) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  addEventListener(
    type: 'unhandledrejection',
    listener: (event: PromiseRejectionEvent) => void,
  ): void;
  close(): void;
}

let serving = false;

/**
 * Runs the tasks of this module worker for a browser pool. Every export that is a `defineTask(...)`
 * result counts by its task name, and every exported plain function `(payload, ctx) => result` by its
 * export name (the `default` export's own properties too). An uncaught error, an unhandled rejection
 * or `self.close()` ends the worker: the pool fails its task with ERR_WORKER_CRASHED and replaces it.
 */
export function serve(tasks: TaskSource, options: ServeOptions = {}): void {
  if (serving)
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'serve() was called twice in one worker; call it once with all the tasks',
    );
  if (!('WorkerGlobalScope' in globalThis))
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'serve() runs inside a module Web Worker (new Worker(url, { type: "module" })), not on a page',
    );
  serving = true;
  const scope = globalThis as unknown as WorkerScope;
  const port = workerPort(scope);
  const found = collect(tasks);
  if (found.length === 0) {
    const error = new OffloadError(
      ErrorCodes.TASK_MODULE,
      'serve() was given no tasks: pass the module namespace (`import * as tasks`) of defineTask() results or plain functions',
    );
    return port.post({ t: 'init-error', error: toWireError(error) });
  }
  const runtime = new ChildRuntime(port, found, {
    sliceMs: options.sliceMs ?? 10,
    heapUsed: undefined,
    defer: deferrer(),
  });
  port.onMessage((message) => runtime.handle(message));
  port.post({ t: 'ready', tasks: found.map(({ name, timeout }) => ({ name, timeout })) });
}

/** The pool's side of the channel; crashes are reported as `fatal` so the pool can replace this worker. */
function workerPort(scope: WorkerScope): ChildPort {
  const close = scope.close.bind(scope);
  const post = (message: ChildMessage) => scope.postMessage(message);
  const fatal = (error: unknown) => post({ t: 'fatal', error: toWireError(error) });
  scope.addEventListener('error', (event) => {
    event.preventDefault();
    fatal(event.error ?? new Error(event.message));
  });
  scope.addEventListener('unhandledrejection', (event) => {
    event.preventDefault();
    fatal(event.reason);
  });
  scope.close = () => {
    fatal(new OffloadError(ErrorCodes.WORKER_CRASHED, 'a task called self.close()'));
    close();
  };
  return {
    post,
    postThenExit: (message) => {
      post(message);
      close();
    },
    onMessage: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
  };
}

function collect(source: TaskSource): RunnableTask[] {
  const found = new Map<string, RunnableTask>();
  const add = (key: string, value: unknown): void => {
    if (isTask(value)) found.set(value.name, value);
    else if (typeof value === 'function')
      found.set(key, { name: key, run: value as RunnableTask['run'], timeout: 0 });
    else if (Array.isArray(value)) for (const item of value) if (isTask(item)) add(item.name, item);
  };
  for (const [key, value] of Object.entries(source)) {
    if (
      key === 'default' &&
      value &&
      typeof value === 'object' &&
      !isTask(value) &&
      !Array.isArray(value)
    ) {
      for (const [inner, item] of Object.entries(value)) add(inner, item);
    } else add(key, value);
  }
  return [...found.values()];
}

/** Runs callbacks after the queued messages (a macrotask without setTimeout's 4 ms clamp). */
function deferrer(): (fn: () => void) => void {
  const channel = new MessageChannel();
  const waiting: Array<() => void> = [];
  channel.port1.onmessage = () => waiting.shift()?.();
  return (fn) => {
    waiting.push(fn);
    channel.port2.postMessage(null);
  };
}
