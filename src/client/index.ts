/**
 * `offload/client`: a typed client of offload's HTTP API on `fetch`, for Node 20 and browsers.
 * It imports nothing from Node; task types come in as types only. See docs/client.md.
 */
export {
  createClient,
  OffloadClient,
  type CallOptions,
  type ClientEnqueueOptions,
  type ClientJobChanges,
  type ClientEnqueueItem,
  type JobOf,
  type ListJobsOptions,
  type WaitOptions,
} from './client.ts';
export type { ClientOptions } from './client-options.ts';
export { ProblemError, type ProblemField } from './problem-error.ts';
export type {
  ApiBulk,
  ApiBulkFilter,
  ApiDeadLetter,
  ApiHealth,
  ApiJob,
  ApiJobError,
  ApiJobPage,
  ApiLimits,
  ApiQueue,
  ApiTokens,
  ApiTask,
  ApiWorker,
  JobStreamEvent,
} from './resources.ts';
export { OffloadError, ErrorCodes, type ErrorCode } from '../core/errors.ts';
export type { Task, TaskPayload, TaskResult } from '../task/define-task-node.ts';
export type { JobState } from '../core/job.ts';
export type { QueueLimits, RateWindow } from '../store/contract.ts';
export type { QueueLimitsInput, RateWindowInput } from '../core/flow-limits.ts';
