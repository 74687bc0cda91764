/**
 * offload: durable background jobs for Node.js. This entry point has what every user needs: tasks,
 * the queue, the worker, the errors and the job words. It loads no store, no server and no native
 * addon; those live on their own entry points, each loaded only by the code that uses it:
 *
 * - `offload/sqlite`: `createSqliteStore`, the embedded store (default).
 * - `offload/postgres`: `createPostgresStore`, for workers on many machines.
 * - `offload/pool`: `createPool`, the thread, process and inline pools without a queue.
 * - `offload/server`: `createServer`, the HTTP API and dashboard, and API tokens.
 * - `offload/webhooks`: signing and verifying webhook deliveries.
 * - `offload/task`: what a task module needs (also in browsers); `offload/client`: the HTTP client;
 *   `offload/browser`: the Web Worker pool.
 *
 * - `offload/testing`: `runTask` and `createTestQueue`, for tests of your own tasks.
 *
 * Start with docs/getting-started.md.
 *
 * @example
 * import { createQueue, createWorker, defineTask } from 'offload';
 * import { createSqliteStore } from 'offload/sqlite';
 */
export { defineTask } from './task/define-task-node.ts';
export type {
  Task,
  TaskDefinition,
  TaskContext,
  TaskLogger,
  TaskLogFn,
  ConcurrencyOption,
  RateLimitOption,
  ExecutionMode,
  TaskMode,
  TaskPayload,
  TaskResult,
} from './task/task.ts';
export { loadTaskModule } from './task/load-task-module-node.ts';
export { defineTasks, type TaskMap, type TaskSet } from './task/task-registry.ts';
export {
  createQueue,
  type Queue,
  type QueueOptions,
  type WaitOptions,
  type RunOptions,
  type EnqueueOptions,
  type EnqueueManyItem,
  type EnqueueWithResult,
} from './queue/queue.ts';
export type { BulkOptions, BulkFilterInput } from './queue/bulk-options.ts';
export type { BulkHandle } from './queue/bulk-runner.ts';
export type { JobChanges } from './queue/job-update.ts';
export type { EnqueueMiddleware, EnqueueMiddlewareContext } from './queue/enqueue-middleware.ts';
export type { RunMiddleware, RunMiddlewareContext, RunOutcome } from './worker/run-middleware.ts';
export {
  createWorker,
  type Worker,
  type WorkerOptions,
  type WorkerEvents,
  type RunSummary,
} from './worker/worker.ts';
export type { JobPlacement } from './worker/mode-placer.ts';
export {
  OffloadError,
  PermanentFailure,
  Snooze,
  ErrorCodes,
  type ErrorCode,
  type SerializedError,
} from './core/errors.ts';
export { RateLimited } from './core/rate-limited.ts';
export { JOB_STATES, type Job, type JobState, type JobAttemptError } from './core/job.ts';
/** Limits of a job's `meta` (8 KiB of JSON) and `tags` (20, of 1-64 characters); see docs/observability.md. */
export { MAX_META_BYTES, MAX_TAGS, MAX_TAG_LENGTH } from './core/job-meta.ts';
export type { Backoff } from './core/backoff.ts';
export type { Clock } from './core/clock.ts';
export type { StandardSchemaV1 } from './core/schema.ts';
export type {
  Store,
  EnqueueContext,
  QueueInfo,
  TaskInfo,
  JobEvent,
  StoreEvents,
  StoreChange,
  JobFilter,
  JobListParams,
  JobUpdateParams,
  QueueLimits,
  RateWindow,
  LimitsState,
  KeyState,
  TokenState,
  BulkAction,
  BulkFilter,
  BulkRecord,
  BulkState,
  DeadLetterGroup,
  DeadLetterParams,
} from './store/contract.ts';
export type { QueueLimitsInput, RateWindowInput } from './core/flow-limits.ts';
