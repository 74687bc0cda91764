/**
 * offload/task: what a task module needs, with no Node.js built-ins, so one task module runs in
 * Node's threads and processes and in the browser's Web Workers. In Node this subpath resolves to
 * `index-node.ts` instead, whose `defineTask` also records the defining file.
 */
export { defineTask, type DefineTask } from './define-task.ts';
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
