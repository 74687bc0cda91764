import { callerFile } from './caller-file-node.ts';
import type { InferSchemaInput, InferSchemaOutput, StandardSchemaV1 } from '../core/schema.ts';
import type { Task, TaskDefinition } from './task.ts';
import { buildTask } from './define-task.ts';

export {
  isTask,
  type ExecutionMode,
  type Task,
  type TaskContext,
  type TaskDefinition,
  type TaskMode,
  type TaskPayload,
  type TaskResult,
} from './task.ts';

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
