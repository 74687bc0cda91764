/**
 * Browser pool fixtures: one per way a task can behave or misbehave. Plain functions (named by their
 * export) beside a `defineTask` one, to show that a worker serves both.
 */
import { defineTask, type TaskContext } from 'offload/task';

const sleep = (ms: number) => new Promise<number>((resolve) => setTimeout(() => resolve(ms), ms));

/** Keeps the worker's thread busy for `ms`, without yielding. */
function busy(ms: number): number {
  const end = performance.now() + ms;
  while (performance.now() < end);
  return ms;
}

export const echo = (payload: unknown) => payload;
export const add = ({ a, b }: { a: number; b: number }) => a + b;
export const spin = (ms: number) => busy(ms);
export const wait = (ms: number) => sleep(ms);
export const whoami = () => (globalThis as unknown as { name: string }).name;

export function throws(): never {
  throw Object.assign(new TypeError('bad input'), { code: 'E_FIXTURE', extra: { field: 'x' } });
}

export async function rejects(): Promise<never> {
  await sleep(1);
  throw new RangeError('rejected on purpose');
}

/** Throws from a timer, outside any task's promise: an uncaught error of the worker. */
export function crashes(): Promise<never> {
  setTimeout(() => {
    throw new TypeError('thrown in a timer');
  });
  return new Promise(() => {});
}

export function rejectsUnhandled(): Promise<never> {
  void Promise.reject(new Error('nobody caught me'));
  return new Promise(() => {});
}

export function closes(): Promise<never> {
  (globalThis as unknown as { close(): void }).close();
  return new Promise(() => {});
}

export async function progress(steps: number, ctx: TaskContext): Promise<number> {
  for (let step = 1; step <= steps; step++) {
    ctx.progress(step);
    await sleep(5);
  }
  return steps;
}

/** Takes its context apart and uses each piece: a task moved from inline to a Web Worker keeps working. */
export async function destructures(
  steps: number,
  { progress, signal, yield: yieldTurn, job }: TaskContext,
): Promise<{ aborted: boolean; task: string }> {
  for (let step = 1; step <= steps; step++) {
    progress(step);
    await yieldTurn();
  }
  return { aborted: signal.aborted, task: job.task };
}

/** Holds the worker's thread for `ms` without an await, reporting 1, 2, 3… every `every` ms; returns the last value. */
export function busyProgress(
  { ms, every }: { ms: number; every: number },
  ctx: TaskContext,
): number {
  const start = performance.now();
  let reported = 0;
  for (let now = start; now - start < ms; now = performance.now()) {
    if (now - start >= (reported + 1) * every) ctx.progress(++reported);
  }
  ctx.progress(++reported);
  return reported;
}

export const sumBytes = (buffer: ArrayBuffer) =>
  new Uint8Array(buffer).reduce((sum, byte) => sum + byte, 0);

export const returnsFunction = () => () => 1;

/** Writes into shared memory the page can see. */
export function sharedWrite(buffer: SharedArrayBuffer): boolean {
  Atomics.store(new Int32Array(buffer), 0, 42);
  return buffer instanceof SharedArrayBuffer;
}

/** A task with its own timeout: the pool enforces it from the task's start. */
export const slow = defineTask({ name: 'slow', timeout: 100, run: (ms: number) => busy(ms) });
