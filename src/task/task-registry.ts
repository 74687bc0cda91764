import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { isTask, type Task } from './task.ts';

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
