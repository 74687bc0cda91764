import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { PoolStats } from '../pool/shared/pool-stats.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import type { Executor } from './job-run.ts';
import { ModePlacer, type JobPlacement } from './mode-placer.ts';
import type { WorkerOptions } from './worker-options.ts';
import { WorkerPools } from './worker-pools.ts';

/** Runs the task on this event loop: a coroutine, with no hand-off. */
export const inlineExecutor: Executor = async (task, payload, ctx) => task.run(payload, ctx);

/** What the executors need of their worker. */
export interface ExecutorsOptions {
  /** See `WorkerOptions.taskModule`. */
  taskModule: string | undefined;
  /** See `WorkerOptions.pools`. */
  pools: WorkerOptions['pools'];
  /** An `auto` task moved to another mode (for the log). */
  onMove(task: Task, placement: JobPlacement): void;
}

/**
 * Every execution mode's executor of one worker, in one place: `inline` on this event loop,
 * `thread` and `process` through the worker's pools ({@link WorkerPools}), and for `auto` tasks
 * placed inline the inline executor measured by the {@link ModePlacer}, whose measurements decide
 * where the task's next jobs go. Also how much room each task's mode has, for the claim.
 */
export class Executors {
  readonly #pools: WorkerPools;
  readonly #placer: ModePlacer;
  readonly #byMode: ReadonlyMap<ExecutionMode, Executor>;
  readonly #measuredInline: Executor;

  constructor(options: ExecutorsOptions) {
    const pools = new WorkerPools({ taskModule: options.taskModule, pools: options.pools });
    this.#pools = pools;
    this.#placer = new ModePlacer({ handoffMs: () => pools.handoffMs(), onMove: options.onMove });
    this.#byMode = new Map<ExecutionMode, Executor>([
      ['inline', inlineExecutor],
      ['thread', pools.executor('thread')],
      ['process', pools.executor('process')],
    ]);
    this.#measuredInline = this.#placer.measured(inlineExecutor);
  }

  /** Throws at worker construction when `task` cannot run here (an unknown mode, no module for a pool). */
  check(task: Task): void {
    if (task.mode !== 'auto' && !this.#byMode.has(task.mode)) {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `task "${task.name}" has mode '${task.mode}', which this worker cannot run yet; use mode: 'inline'`,
      );
    }
    this.#pools.check(task);
  }

  /** Whether the mode that `task`'s next job would run in has room for it now. */
  hasRoom(task: Task): boolean {
    return this.#pools.hasRoom(this.#placer.current(task));
  }

  /** Jobs of `task` that could start now in the mode its next job would run in (Infinity inline). */
  room(task: Task): number {
    const mode = this.#placer.current(task);
    return mode === 'inline' ? Infinity : this.#pools.room(mode);
  }

  /** Where one job of `task` runs, and why. */
  place(task: Task): JobPlacement {
    return this.#placer.place(task);
  }

  /** The executor of one run of `task`, placed in `mode`. */
  of(task: Task, mode: ExecutionMode): Executor {
    if (mode === 'inline' && task.mode === 'auto') return this.#measuredInline;
    return this.#byMode.get(mode)!;
  }

  /** Statistics of the thread and process pools made so far. */
  poolStats(): Array<{ key: string; stats: PoolStats }> {
    return this.#pools.stats();
  }

  /** Closes the pools (running jobs have finished or been released by then). */
  close(): Promise<void> {
    return this.#pools.close();
  }
}
