/** offload/task as Node resolves it: `index.ts` with the `defineTask` that records its file. */
export { defineTask } from './define-task-node.ts';
export type { DefineTask } from './define-task.ts';
export {
  isTask,
  type ExecutionMode,
  type Task,
  type ConcurrencyOption,
  type RateLimitOption,
  type TaskContext,
  type TaskLogger,
  type TaskLogFn,
  type TaskDefinition,
  type TaskPayload,
  type TaskResult,
} from './task.ts';
export { defineTasks, type TaskMap, type TaskSet } from './task-registry.ts';
export {
  OffloadError,
  PermanentFailure,
  Snooze,
  ErrorCodes,
  type ErrorCode,
} from '../core/errors.ts';
export { RateLimited } from '../core/rate-limited.ts';
