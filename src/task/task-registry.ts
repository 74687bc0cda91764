import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { isTask, type Task } from './task.ts';

/** A set of tasks by name, as a worker or a queue holds them (at run time; {@link defineTasks} is its typed counterpart). */
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
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `two different tasks are named "${task.name}"; task names must be unique`,
      );
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
        (known.length
          ? `; registered tasks: ${known.join(', ')}`
          : '; no tasks are registered (pass `tasks` or `--tasks`)'),
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

/** Tasks by name, as `defineTasks` takes them: each key is its task's name. */
export type TaskMap = { readonly [name: string]: Task };

/**
 * A task module's tasks as one list that remembers them by name for the type checker: a queue
 * made with it (`createQueue({ store, tasks })`) checks `enqueue('name', payload)` against that
 * task's payload and types the job's result. At run time it is a frozen array of the tasks, so it
 * goes wherever a task list does (`createWorker({ tasks })`).
 */
export type TaskSet<M extends TaskMap = TaskMap> = readonly Task[] & {
  /** Type-only: never set at run time. */
  readonly __tasks?: M;
};

/**
 * Collects tasks into a {@link TaskSet} keyed by their names. Throws ERR_INVALID_OPTION when a
 * value is not a task or a key is not its task's name (a key is the name jobs go by).
 *
 * @example
 * export const tasks = defineTasks({ 'send-email': sendEmail, resize });
 * const queue = createQueue({ store, tasks });
 * await queue.enqueue('resize', { path: 'a.png', width: 100 }); // checked against resize's payload
 */
export function defineTasks<const M extends TaskMap>(tasks: M): TaskSet<M> {
  if (typeof tasks !== 'object' || tasks === null || Array.isArray(tasks)) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'defineTasks: expected an object of tasks by name, e.g. defineTasks({ resize })',
      { details: { label: 'defineTasks' } },
    );
  }
  const list: Task[] = [];
  for (const [key, task] of Object.entries(tasks)) {
    if (!isTask(task)) {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `defineTasks: "${key}" is not a task; pass the results of defineTask()`,
        { details: { label: 'defineTasks', option: key } },
      );
    }
    if (task.name !== key) {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `defineTasks: key "${key}" holds the task named "${task.name}"; key each task by its name ({ ${JSON.stringify(task.name)}: ${key} })`,
        { details: { label: 'defineTasks', option: key, task: task.name } },
      );
    }
    list.push(task);
  }
  return Object.freeze(list) as TaskSet<M>;
}
