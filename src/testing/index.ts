/**
 * offload/testing: test your own tasks without a worker. `runTask` runs a task once, as a worker
 * would run one job of it, and reports its outcome, result or error, progress, log lines and
 * signal; `createTestQueue` gives a real queue on a fresh SQLite file that the test drains step by
 * step and asserts on. See docs/testing.md.
 *
 * @example
 * import { runTask, createTestQueue } from 'offload/testing';
 */
export { runTask, type RunTaskOptions } from './run-task.ts';
export {
  createTestQueue,
  type TestQueue,
  type TestQueueOptions,
  type DrainStep,
} from './test-queue.ts';
export type { TaskRunResult, RunOutcome, LogLine } from './run-once.ts';
