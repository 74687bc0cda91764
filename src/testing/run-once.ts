import pino from 'pino';
import type { Clock } from '../core/clock.ts';
import type { SerializedError } from '../core/errors.ts';
import type { ClaimedJob } from '../core/job.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts';
import { LOG_LEVELS, type LogLevel } from '../pool/shared/log-relay.ts';
import type { JobOutcome } from '../store/contract.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import { inlineExecutor } from '../worker/executors.ts';
import { JobRun, type Executor } from '../worker/job-run.ts';
import { WorkerPools } from '../worker/worker-pools.ts';

/** How one run ended, in the words of the job's next state. */
export type RunOutcome =
  | 'succeeded'
  /** Failed for good: no attempts left, or `ctx.fail`. */
  | 'failed'
  /** Failed with attempts left: a worker would run it again at `runAt`. */
  | 'retrying'
  /** `ctx.snooze`: back on the queue at `runAt`, no attempt counted. */
  | 'snoozed'
  /** `ctx.rateLimited`: back on the queue at `runAt`, its flow key held until then. */
  | 'rateLimited'
  /** Its signal aborted (the `signal` run option): nothing would be recorded. */
  | 'cancelled';

/** One `ctx.logger` line as the worker's logger wrote it: its level name, message and fields. */
export interface LogLine {
  level: LogLevel;
  msg: string | undefined;
  [field: string]: unknown;
}

/** What a task did in one run, as a test reads it. */
export interface TaskRunResult<Result = unknown> {
  outcome: RunOutcome;
  /** The result as stored (through JSON), when it succeeded. */
  result: Result | undefined;
  /** The error as stored (name, message, stack, code), when it failed or is retrying. */
  error: SerializedError | undefined;
  /** When a worker would run it again (`retrying`, `snoozed`, `rateLimited`), epoch ms. */
  runAt: number | undefined;
  /** Every value the task passed to `ctx.progress`, in order. */
  progress: unknown[];
  /** Every `ctx.logger` line, with the job's fields (`job`, `task`, `queue`, `attempt`). */
  logs: LogLine[];
  /** The task's `ctx.signal`, as it was when the run ended. */
  signal: AbortSignal | undefined;
  /** Where it ran. */
  mode: ExecutionMode;
}

/** What a run needs beside the job and its task. */
export interface RunOnceSettings {
  clock: Clock;
  mode: ExecutionMode;
  /** Aborting it cancels the run, as a cancel of the job would. */
  signal: AbortSignal | undefined;
  workerId: string;
  /** The pools of `thread` and `process` runs; made for one run when not given. */
  pools?: WorkerPools;
}

/** The log lines a capturing logger gathered, with level names and without pino's time and base. */
function capturingLogger(lines: LogLine[], workerId: string): pino.Logger {
  const write = (line: string) => {
    const { level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
    lines.push({ ...fields, level: levelName(level), msg: msg as string | undefined });
  };
  return pino({ level: 'trace', base: undefined, timestamp: false }, { write }).child({
    worker: workerId,
  });
}

function levelName(level: unknown): LogLevel {
  const name = pino.levels.labels[Number(level)];
  return (LOG_LEVELS as readonly string[]).includes(name ?? '') ? (name as LogLevel) : 'info';
}

/**
 * Runs `job` once through the worker's own run pipeline ({@link JobRun}: the same `ctx`, the
 * same timeout, the same turning of what happened into an outcome), capturing its progress, log
 * lines and signal. Returns the outcome a worker would record (null: none) and the report.
 */
export async function runOnce(
  job: ClaimedJob,
  task: Task,
  settings: RunOnceSettings,
): Promise<{ outcome: JobOutcome | null; report: TaskRunResult }> {
  const progress: unknown[] = [];
  const logs: LogLine[] = [];
  const run = new JobRun(job, task, {
    workerId: settings.workerId,
    clock: settings.clock,
    maxResultBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    sliceMs: 10,
    saveProgress: async () => {},
    report: () => {},
    log: capturingLogger(logs, settings.workerId),
    observeProgress: (value) => progress.push(value),
  });
  let signal: AbortSignal | undefined;
  const pools =
    settings.mode === 'inline'
      ? undefined
      : (settings.pools ?? new WorkerPools({ taskModule: undefined, pools: undefined }));
  pools?.check(task);
  const execute = settings.mode === 'inline' ? inlineExecutor : pools!.executor(settings.mode);
  const executor: Executor = (runTask, payload, ctx, facts) => {
    signal = ctx.signal;
    return execute(runTask, payload, ctx, facts);
  };
  const cancel = () => run.abort('cancelled');
  if (settings.signal?.aborted) cancel();
  settings.signal?.addEventListener('abort', cancel, { once: true });
  try {
    const outcome = await run.execute(executor, settings.mode);
    return { outcome, report: reportOf(outcome, { progress, logs, signal, mode: settings.mode }) };
  } finally {
    settings.signal?.removeEventListener('abort', cancel);
    if (pools && !settings.pools) await pools.close();
  }
}

function reportOf(
  outcome: JobOutcome | null,
  seen: Pick<TaskRunResult, 'progress' | 'logs' | 'signal' | 'mode'>,
): TaskRunResult {
  const base = { ...seen, result: undefined, error: undefined, runAt: undefined };
  if (!outcome || outcome.kind === 'released' || outcome.kind === 'started')
    return { ...base, outcome: 'cancelled' };
  if (outcome.kind === 'succeeded')
    return { ...base, outcome: 'succeeded', result: JSON.parse(outcome.result) as unknown };
  if (outcome.kind === 'failed')
    return outcome.retryAt === null
      ? { ...base, outcome: 'failed', error: outcome.error }
      : { ...base, outcome: 'retrying', error: outcome.error, runAt: outcome.retryAt };
  return { ...base, outcome: outcome.kind, runAt: outcome.runAt };
}
