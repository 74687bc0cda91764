import os from 'node:os';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { Pool } from '../pool/contract.ts';
import { writeLog } from '../pool/shared/log-relay.ts';
import type { PoolStats } from '../pool/shared/pool-stats.ts';
import { createPool } from '../pool/pool.ts';
import { resolvePoolOptions, type PoolOptions } from '../pool/pool-options.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import type { Executor } from './job-run.ts';

type PooledMode = 'thread' | 'process';
type PoolSettings = Omit<PoolOptions, 'mode' | 'module'>;

/** Most characters of a process's output appended to a failed job's stack. */
const OUTPUT_IN_ERROR = 4_000;
/** Most characters of a process's output kept on the job record (`Job.outputTail`). */
const OUTPUT_TAIL_CHARS = 4_096;

/** Thread runs needed before their measured hand-off replaces the default in `auto` placement. */
const HANDOFF_SAMPLES = 20;

/**
 * The thread and process pools of one worker, made on first use, one per mode and task module.
 * Each mode has its own capacity (jobs running at once); the worker claims a mode's tasks only
 * while it has room.
 */
export class WorkerPools {
  readonly #taskModule: string | undefined;
  readonly #settings: Partial<Record<PooledMode, PoolSettings>>;
  readonly #pools = new Map<string, Pool>();
  readonly #active: Record<PooledMode, number> = { thread: 0, process: 0 };
  readonly #capacity: Record<PooledMode, number>;

  constructor(options: {
    taskModule: string | undefined;
    pools: Partial<Record<PooledMode, PoolSettings>> | undefined;
  }) {
    this.#taskModule = options.taskModule;
    this.#settings = options.pools ?? {};
    for (const mode of ['thread', 'process'] as const) {
      if (this.#settings[mode]) resolvePoolOptions({ ...this.#settings[mode], mode, module: '.' });
    }
    this.#capacity = { thread: this.#capacityOf('thread'), process: this.#capacityOf('process') };
  }

  #capacityOf(mode: PooledMode): number {
    const settings = this.#settings[mode] ?? {};
    const workers = settings.maxWorkers ?? Math.max(1, os.availableParallelism());
    const perWorker = typeof settings.tasksPerWorker === 'number' ? settings.tasksPerWorker : 1;
    return workers * perWorker;
  }

  /** Throws at worker construction when a thread or process task has no module to load it from. */
  check(task: Task): void {
    if (task.mode === 'inline' || this.#moduleOf(task)) return;
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `task "${task.name}" runs in mode '${task.mode}'${task.mode === 'auto' ? ' (which may use a thread)' : ''}, but the file it was defined in is unknown; pass \`taskModule\` to createWorker`,
    );
  }

  hasRoom(mode: ExecutionMode): boolean {
    return mode === 'inline' || this.#active[mode] < this.#capacity[mode];
  }

  /** Jobs of a pooled mode that could start now. */
  room(mode: PooledMode): number {
    return Math.max(0, this.#capacity[mode] - this.#active[mode]);
  }

  /** Runs a task in the pool of its mode, passing cancellation, progress, log lines and the job's facts through. */
  executor(mode: PooledMode): Executor {
    return async (task, payload, ctx, facts) => {
      this.#active[mode]++;
      let output = '';
      const onOutput = (text: string) => {
        output = text;
        // PostgreSQL's text cannot hold U+0000; both stores keep U+FFFD in its place.
        facts.outputTail = text.slice(-OUTPUT_TAIL_CHARS).replaceAll('\u0000', '\uFFFD');
      };
      if (mode === 'process') facts.outputTail = '';
      try {
        return await this.#pool(mode, task).run(task.name, payload, {
          signal: ctx.signal,
          onProgress: (value) => ctx.progress(value),
          onOutput: mode === 'process' ? onOutput : undefined,
          onLog: (entry) => writeLog(ctx.logger, entry),
          job: ctx.job,
        });
      } catch (error) {
        throw withOutput(error, output);
      } finally {
        this.#active[mode]--;
      }
    };
  }

  #moduleOf(task: Task): string | undefined {
    return this.#taskModule ?? task.file;
  }

  #pool(mode: PooledMode, task: Task): Pool {
    const module = this.#moduleOf(task)!;
    const key = `${mode}:${module}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = createPool({
        minWorkers: 0,
        tasksPerWorker: 1,
        ...this.#settings[mode],
        mode,
        module,
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Statistics of each pool made so far, keyed `mode:module`. */
  stats(): Array<{ key: string; stats: PoolStats }> {
    return [...this.#pools].map(([key, pool]) => ({ key, stats: pool.stats() }));
  }

  /** The thread pools' measured median hand-off (run() to result, less the run), once they have enough runs to say. */
  handoffMs(): number | undefined {
    for (const [key, pool] of this.#pools) {
      if (!key.startsWith('thread:')) continue;
      const stats = pool.stats();
      if (stats.completed >= HANDOFF_SAMPLES) return stats.waitTime.p50;
    }
    return undefined;
  }

  /** Closes every pool (running jobs have finished or been released by then). */
  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.destroy()));
    this.#pools.clear();
  }
}

/** Keeps a process's last output with the failed job: appended to the error's stack. */
function withOutput(error: unknown, output: string): unknown {
  if (!output.trim() || !(error instanceof Error) || error.stack?.includes(output.slice(-200)))
    return error;
  error.stack = `${error.stack ?? error.message}\n--- process output (tail) ---\n${output.slice(-OUTPUT_IN_ERROR)}`;
  return error;
}
