/** offload/task as Node resolves it: `task-api.ts` with the `defineTask` that records its file. */
export { defineTask } from './task.ts';
export type { DefineTask } from './task-define.ts';
export { isTask, type ExecutionMode, type Task, type TaskContext, type TaskDefinition, type TaskPayload, type TaskResult } from './task-core.ts';
export { OffloadError, PermanentFailure, Snooze, ErrorCodes, type ErrorCode } from './errors.ts';
