import os from 'node:os';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { chooseMode, INLINE_FACTOR } from '../core/mode-rule.ts';
import type { Pool } from '../pool/contract.ts';
import { createPool } from '../pool/pool.ts';
import { validateWithSchema } from '../core/schema.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import { cpuTimeMs } from './cpu-time.ts';
import { Interrupted } from './harness.ts';
import { summarize } from './stats.ts';

/** What one mode did with the task. Times in milliseconds. */
export interface ModeMeasurement {
  mode: ExecutionMode;
  /** Threads or processes (inline: 1, the event loop). */
  workers: number;
  /** Jobs run one at a time. */
  sequentialJobs: number;
  /** Median time of one job from `run()` to its result, one at a time. */
  latencyMs: number;
  /** The task's own median run time, measured where it ran. */
  runMs: number;
  /** latency − run time: what the mode adds to each job (hand-off, cloning, bookkeeping). */
  overheadMs: number;
  /** Jobs submitted at once for the throughput figure. */
  burstJobs: number;
  throughput: number;
  /** CPU time per job in the burst, all threads and child processes counted. */
  cpuMsPerJob: number;
}

export interface TaskBenchResult {
  kind: 'offload-bench-task';
  task: string;
  payload: unknown;
  cpus: number;
  modes: ModeMeasurement[];
  recommendation: { mode: ExecutionMode; reason: string; notes: string[] };
}

export interface TaskBenchOptions {
  /** The task module, loaded by each thread and process. */
  module: string;
  /** Shorter phases (about a second per mode). Default false. */
  quick?: boolean;
  signal?: AbortSignal;
  onProgress?(done: number, total: number, mode: ExecutionMode | undefined): void;
}

const MODES: ExecutionMode[] = ['inline', 'thread', 'process'];

/**
 * Runs one task with one payload in all three modes through createPool: one job at a time (per-job
 * overhead), then a burst (throughput and CPU time per job), and recommends a mode by the rule in
 * mode-rule.ts. The payload is checked against the task's schema first.
 */
export async function benchTask(
  task: Task,
  payload: unknown,
  options: TaskBenchOptions,
): Promise<TaskBenchResult> {
  const value = task.schema ? await validateWithSchema(task.schema, payload, task.name) : payload;
  const modes: ModeMeasurement[] = [];
  for (const [index, mode] of MODES.entries()) {
    options.onProgress?.(index, MODES.length, mode);
    if (options.signal?.aborted) throw new Interrupted();
    modes.push(await measureMode(task, value, mode, options));
  }
  options.onProgress?.(MODES.length, MODES.length, undefined);
  return {
    kind: 'offload-bench-task',
    task: task.name,
    payload,
    cpus: os.availableParallelism(),
    modes,
    recommendation: recommend(modes),
  };
}

async function measureMode(
  task: Task,
  payload: unknown,
  mode: ExecutionMode,
  options: TaskBenchOptions,
): Promise<ModeMeasurement> {
  const workers = mode === 'inline' ? 1 : Math.max(1, os.availableParallelism());
  const pool = createPool({
    mode,
    module: options.module,
    maxWorkers: mode === 'inline' ? Infinity : workers,
    minWorkers: mode === 'inline' ? 0 : workers,
  });
  try {
    await firstRun(pool, task, payload, mode);
    const budget = options.quick ? 150 : 1000;
    const latencies = await oneAtATime(
      pool,
      task.name,
      payload,
      budget,
      options.quick ? 30 : 500,
      options.signal,
    );
    const latencyMs = summarize(latencies).median;
    const runMs = pool.stats().runTime.p50;
    const burstJobs = Math.round(
      Math.min(
        20_000,
        Math.max(10, ((options.quick ? 200 : 1500) * workers) / Math.max(latencyMs, 0.001)),
      ),
    );
    const { throughput, cpuMsPerJob } = await burst(pool, task.name, payload, burstJobs);
    return {
      mode,
      workers,
      sequentialJobs: latencies.length,
      latencyMs,
      runMs,
      overheadMs: Math.max(0, latencyMs - runMs),
      burstJobs,
      throughput,
      cpuMsPerJob,
    };
  } finally {
    await pool.destroy();
  }
}

async function firstRun(
  pool: Pool,
  task: Task,
  payload: unknown,
  mode: ExecutionMode,
): Promise<void> {
  try {
    await pool.ready();
    await pool.run(task.name, payload);
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    throw new OffloadError(
      ErrorCodes.INVALID_PAYLOAD,
      `task "${task.name}" failed in ${mode} mode with this payload: ${message}; bench task needs a payload the task runs to success`,
      { cause: error },
    );
  }
}

/** Jobs one after another until `budgetMs` has passed or `maxJobs` ran (at least 5); each job's latency in ms. */
async function oneAtATime(
  pool: Pool,
  name: string,
  payload: unknown,
  budgetMs: number,
  maxJobs: number,
  signal?: AbortSignal,
): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + budgetMs;
  while (latencies.length < 5 || (latencies.length < maxJobs && performance.now() < end)) {
    if (signal?.aborted) throw new Interrupted();
    const start = performance.now();
    await pool.run(name, payload);
    latencies.push(performance.now() - start);
  }
  return latencies;
}

async function burst(
  pool: Pool,
  name: string,
  payload: unknown,
  jobs: number,
): Promise<{ throughput: number; cpuMsPerJob: number }> {
  const cpuBefore = cpuTimeMs();
  const start = performance.now();
  await Promise.all(Array.from({ length: jobs }, () => pool.run(name, payload)));
  const elapsed = performance.now() - start;
  return { throughput: jobs / (elapsed / 1000), cpuMsPerJob: (cpuTimeMs() - cpuBefore) / jobs };
}

/** The rule of mode-rule.ts on this task's numbers, with what process mode would cost beside it. */
export function recommend(modes: ModeMeasurement[]): TaskBenchResult['recommendation'] {
  const by = (mode: ExecutionMode) => modes.find((m) => m.mode === mode)!;
  const inline = by('inline');
  const thread = by('thread');
  const proc = by('process');
  const choice = chooseMode({ blockMs: inline.cpuMsPerJob, handoffMs: thread.overheadMs });
  const notes = [
    `rule: inline while a run holds the event loop for less than ${INLINE_FACTOR}× a thread round trip; the same rule moves tasks with mode: 'auto'`,
    `throughput here: inline ${Math.round(inline.throughput)}/s, thread ${Math.round(thread.throughput)}/s, process ${Math.round(proc.throughput)}/s`,
    `process adds ${(proc.overheadMs - thread.overheadMs).toFixed(3)} ms per job over thread: choose it (or isolate: true) for code that may crash, leak or call process.exit`,
  ];
  return { mode: choice.mode, reason: choice.reason, notes };
}
