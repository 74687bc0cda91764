import { z } from 'zod';
import type { Backoff } from './backoff.ts';
import { callerFile } from './caller-file.ts';
import { ErrorCodes, OffloadError } from './errors.ts';
import { optionSchemas, parseOptions } from './options.ts';
import {
  isStandardSchema,
  type InferSchemaInput,
  type InferSchemaOutput,
  type StandardSchemaV1,
} from './schema.ts';

/**
 * Where a task runs. `inline`: a coroutine on the worker's event loop (must yield).
 * `thread`: a worker_threads pool. `process`: a child-process pool (full isolation).
 */
export type ExecutionMode = 'inline' | 'thread' | 'process';

/** What a running task can see and do. */
export interface TaskContext {
  /** The job being run. `attempt` counts from 1. */
  readonly job: {
    readonly id: string;
    readonly task: string;
    readonly queue: string;
    readonly attempt: number;
    readonly maxAttempts: number;
  };
  /** Aborts when the job is cancelled, times out, loses its lease, or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Records progress (any JSON value, a number from 0 to 100 by convention) on the job. */
  progress(value: unknown): void;
  /**
   * Gives the event loop a turn if this task has held it longer than the worker's slice
   * (default 10 ms); otherwise resolves at once. Inline tasks that loop over work call it often.
   */
  yield(): Promise<void>;
  /** Fails the job for good: no further attempts. */
  fail(message: string): never;
  /** Puts the job back to run again after `delayMs`, without counting a failed attempt. */
  snooze(delayMs: number): never;
}

/** What `defineTask` takes. Each option's default is stated on it. */
export interface TaskDefinition<Payload, Result> {
  /** Unique name; jobs refer to the task by it. Letters, digits, `_ . : -`. */
  name: string;
  /** Where it runs. Default `inline`. */
  mode?: ExecutionMode;
  /** The work. Its resolved value is stored as the job's result (must be JSON-serialisable). */
  run: (payload: Payload, ctx: TaskContext) => Result | Promise<Result>;
  /** Milliseconds one run may take before its signal aborts and it fails. Default 0: no limit. */
  timeout?: number;
  /** Runs before the job fails for good (the first run counts). Default 3. */
  attempts?: number;
  /** Delay before a retry. Default: 1 s doubling each attempt, capped at 1 h, with jitter. */
  backoff?: Backoff;
  /** Queue its jobs go to unless `enqueue` says otherwise. Default `default`. */
  queue?: string;
  /** Default priority of its jobs: higher runs first. Default 0. */
  priority?: number;
  /** Validates payloads at enqueue (any Standard Schema: zod, valibot, arktype…). */
  schema?: StandardSchemaV1;
  /** A sample payload, for docs, forms and `offload start --demo`. */
  example?: Payload;
}

const TASK_BRAND = Symbol.for('offload.task');

/** A defined task: the handle `enqueue` takes, carrying its payload and result types. */
export interface Task<Payload = unknown, Result = unknown> {
  readonly [TASK_BRAND]: true;
  readonly name: string;
  readonly mode: ExecutionMode;
  /** Declared as a method so a typed Task<P, R> is usable wherever a plain Task is. */
  run(payload: Payload, ctx: TaskContext): Result | Promise<Result>;
  readonly timeout: number;
  readonly attempts: number;
  readonly backoff: Backoff | undefined;
  readonly queue: string;
  readonly priority: number;
  readonly schema: StandardSchemaV1 | undefined;
  readonly example: Payload | undefined;
  /**
   * The file that called `defineTask` (non-enumerable), so thread and process workers can load the
   * task's module by path. Undefined when it cannot be told; then pass `taskModule` to createWorker.
   */
  readonly file?: string;
  /** Type-only: never set at run time. */
  readonly __types?: { payload: Payload; result: Result };
}

export type TaskPayload<T> = T extends Task<infer P, unknown> ? P : never;
export type TaskResult<T> = T extends { readonly __types?: { result: infer R } } ? Awaited<R> : never;

const taskOptionsSchema = z.object({
  name: optionSchemas.name,
  mode: z.enum(['inline', 'thread', 'process']).default('inline'),
  run: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', {
    message: 'must be a function (payload, ctx) => result',
  }),
  timeout: optionSchemas.milliseconds.default(0),
  attempts: optionSchemas.positiveInt.default(3),
  backoff: z
    .union([
      optionSchemas.milliseconds,
      z.custom<(attempt: number) => number>((value) => typeof value === 'function'),
      z.object({
        delay: optionSchemas.milliseconds.optional(),
        factor: z.number().min(1).optional(),
        maxDelay: optionSchemas.milliseconds.optional(),
        jitter: z.boolean().optional(),
      }).strict(),
    ], { message: 'must be milliseconds, a function of the attempt, or { delay, factor, maxDelay, jitter }' })
    .optional(),
  queue: optionSchemas.name.default('default'),
  priority: z.number().int('must be a whole number').default(0),
  schema: z
    .custom<StandardSchemaV1>(isStandardSchema, {
      message: 'must be a Standard Schema (for example a zod or valibot schema)',
    })
    .optional(),
  example: z.unknown().optional(),
});

/**
 * Defines a task. The payload type comes from `schema` when there is one, otherwise from the
 * `run` function's first parameter; it then types every `enqueue` of this task.
 *
 * @example
 * export const resize = defineTask({
 *   name: 'resize',
 *   mode: 'thread',
 *   run: async (payload: { path: string; width: number }) => ({ ok: true }),
 * });
 */
export function defineTask<S extends StandardSchemaV1, Result>(
  definition: TaskDefinition<InferSchemaOutput<S>, Result> & { schema: S },
): Task<InferSchemaInput<S>, Result>;
export function defineTask<Payload = unknown, Result = unknown>(
  definition: TaskDefinition<Payload, Result>,
): Task<Payload, Result>;
export function defineTask(definition: TaskDefinition<unknown, unknown>): Task {
  const options = parseOptions('defineTask', taskOptionsSchema, definition);
  const task = {
    [TASK_BRAND]: true as const,
    ...options,
    run: definition.run,
    backoff: definition.backoff,
    schema: definition.schema,
    example: definition.example,
  };
  Object.defineProperty(task, 'file', { value: callerFile(defineTask), enumerable: false });
  return Object.freeze(task);
}

export function isTask(value: unknown): value is Task {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TASK_BRAND] === true;
}

/** A set of tasks by name, as a worker or a queue holds them. */
export class TaskRegistry {
  readonly #tasks = new Map<string, Task>();

  constructor(tasks: Iterable<Task> = []) {
    for (const task of tasks) this.add(task);
  }

  add(task: Task): void {
    if (!isTask(task)) {
      throw new OffloadError(ErrorCodes.INVALID_OPTION, 'tasks must be made with defineTask()');
    }
    const existing = this.#tasks.get(task.name);
    if (existing && existing !== task) {
      throw new OffloadError(ErrorCodes.INVALID_OPTION, `two different tasks are named "${task.name}"; task names must be unique`);
    }
    this.#tasks.set(task.name, task);
  }

  get(name: string): Task {
    const task = this.#tasks.get(name);
    if (task) return task;
    const known = [...this.#tasks.keys()];
    throw new OffloadError(
      ErrorCodes.TASK_NOT_FOUND,
      `no task named "${name}"` +
        (known.length ? `; registered tasks: ${known.join(', ')}` : '; no tasks are registered (pass `tasks` or `--tasks`)'),
      { details: { task: name } },
    );
  }

  has(name: string): boolean {
    return this.#tasks.has(name);
  }

  list(): Task[] {
    return [...this.#tasks.values()];
  }
}
