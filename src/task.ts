import { callerFile } from './caller-file.ts';
import { ErrorCodes, OffloadError } from './errors.ts';
import type { InferSchemaInput, InferSchemaOutput, StandardSchemaV1 } from './schema.ts';
import { isTask, type Task, type TaskDefinition } from './task-core.ts';
import { buildTask } from './task-define.ts';

export { isTask, type ExecutionMode, type Task, type TaskContext, type TaskDefinition, type TaskMode, type TaskPayload, type TaskResult } from './task-core.ts';

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
  return buildTask(definition, callerFile(defineTask));
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
