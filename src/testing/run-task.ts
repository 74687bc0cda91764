import { z } from 'zod';
import { systemClock, type Clock } from '../core/clock.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { ClaimedJob } from '../core/job.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, encodePayload } from '../core/payload.ts';
import { validateWithSchema } from '../core/schema.ts';
import {
  isTask,
  type ExecutionMode,
  type Task,
  type TaskPayload,
  type TaskResult,
} from '../task/task.ts';
import { runOnce, type TaskRunResult } from './run-once.ts';

/** Options of {@link runTask}; each states its default. */
export interface RunTaskOptions {
  /** What `ctx.job.attempt` reads, from 1; with `maxAttempts` it decides `failed` or `retrying`. Default 1. */
  attempt?: number;
  /** What `ctx.job.maxAttempts` reads. Default: the task's `attempts`. */
  maxAttempts?: number;
  /** What `ctx.job.id` reads. Default `test-1`, `test-2`… */
  jobId?: string;
  /** What `ctx.job.queue` reads. Default: the task's queue. */
  queue?: string;
  /** Milliseconds the run may take before it fails with ERR_TASK_TIMEOUT (0: none). Default: the task's timeout. */
  timeout?: number;
  /** Aborting it aborts `ctx.signal` and ends the run as `cancelled`, as cancelling the job would. */
  signal?: AbortSignal;
  /**
   * Where it runs: `inline` on the test's event loop, or `thread` / `process` in a pool made for
   * this run, loading the task's module by path as a worker would. Default `inline`.
   */
  mode?: ExecutionMode;
  /** The clock `runAt` is counted on. Default: the system clock. */
  clock?: Clock;
}

const optionsSchema = z.object({
  attempt: z.number().int('must be a whole number').min(1, 'must be at least 1').optional(),
  maxAttempts: optionSchemas.attempts.optional(),
  jobId: optionSchemas.storedText.optional(),
  queue: optionSchemas.name.optional(),
  timeout: optionSchemas.timerMs.optional(),
  signal: z.instanceof(AbortSignal, { message: 'must be an AbortSignal' }).optional(),
  mode: z.enum(['inline', 'thread', 'process']).default('inline'),
  clock: z
    .custom<Clock>((value) => typeof (value as Clock)?.now === 'function', 'must have now()')
    .default(systemClock),
});

let runs = 0;

/**
 * Runs a task once, as a worker would run one job of it, and reports what it did: its outcome,
 * result or error, and every progress value, log line and its signal. The payload is checked
 * against the task's schema and passed through JSON first, as `enqueue` stores it; a payload that
 * fails the schema rejects with ERR_INVALID_PAYLOAD, bad options with ERR_INVALID_OPTION. The
 * task's own errors do not reject: they are the `failed` or `retrying` outcome.
 *
 * @example
 * const run = await runTask(sendEmail, { to: 'ada@example.org' });
 * assert.equal(run.outcome, 'succeeded');
 */
export async function runTask<T extends Task>(
  task: T,
  payload: TaskPayload<T>,
  options: RunTaskOptions = {},
): Promise<TaskRunResult<TaskResult<T>>> {
  if (!isTask(task))
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'runTask: the first argument must be a task made with defineTask()',
    );
  const parsed = parseOptions('runTask', optionsSchema, options);
  const stored = await storedPayload(task, payload);
  const attempt = parsed.attempt ?? 1;
  const maxAttempts = parsed.maxAttempts ?? Math.max(task.attempts, attempt);
  if (attempt > maxAttempts)
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `runTask: option \`attempt\` (${attempt}) is above \`maxAttempts\` (${maxAttempts})`,
      { details: { option: 'attempt' } },
    );
  const job = testJob(task, stored, { ...parsed, attempt, maxAttempts });
  const { report } = await runOnce(job, task, {
    clock: parsed.clock,
    mode: parsed.mode,
    signal: parsed.signal,
    workerId: 'offload-testing',
  });
  return report as TaskRunResult<TaskResult<T>>;
}

/** The payload a worker would hand the task: through the schema, then through JSON. */
async function storedPayload(task: Task, payload: unknown): Promise<unknown> {
  const checked = task.schema ? await validateWithSchema(task.schema, payload, task.name) : payload;
  return JSON.parse(encodePayload(checked, task.name, DEFAULT_MAX_PAYLOAD_BYTES)) as unknown;
}

function testJob(
  task: Task,
  payload: unknown,
  options: z.output<typeof optionsSchema> & { attempt: number; maxAttempts: number },
): ClaimedJob {
  const now = options.clock.now();
  return {
    id: options.jobId ?? `test-${++runs}`,
    queue: options.queue ?? task.queue,
    task: task.name,
    payload,
    state: 'running',
    priority: task.priority,
    runAt: now,
    attempts: options.attempt,
    maxAttempts: options.maxAttempts,
    timeoutMs: options.timeout ?? task.timeout,
    uniqueKey: null,
    key: null,
    idempotencyKey: null,
    callbackUrl: null,
    webhookJobId: null,
    progress: null,
    result: null,
    error: null,
    errors: [],
    leaseOwner: 'offload-testing',
    leaseExpiresAt: now + 60_000,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    placement: null,
    outputTail: null,
    meta: {},
    tags: [],
    fence: 1,
  };
}
