import { performance } from 'node:perf_hooks';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { WorkerExitReason } from './contract.ts';
import type { PendingTask } from './pending-task.ts';
import type { ExitInfo, WorkerHandle } from './worker-handle.ts';

/** One thread or child process of a pool and what the pool knows about it. */
export class PoolWorker {
  handle!: WorkerHandle;
  readonly inFlight = new Map<number, PendingTask>();
  readonly startedAt = performance.now();
  readonly exited: Promise<void>;
  readonly markExited: () => void;
  state: 'starting' | 'ready' | 'retiring' | 'exiting' | 'dead' = 'starting';
  /** Tasks it answered. */
  ran = 0;
  /** Abandoned tasks (timed out or cancelled) it still runs: it gets no new work meanwhile. */
  stuck = 0;
  /** Set when the pool ends it on purpose. */
  endReason: WorkerExitReason | undefined;
  /** Set when the pool kills it because a task ignored its signal. */
  killedFor: string | undefined;
  /** The module failed to load in it. */
  initError: Error | undefined;
  /** An uncaught exception or unhandled rejection it reported before dying. */
  fatal: Error | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor() {
    let resolve!: () => void;
    this.exited = new Promise<void>((done) => (resolve = done));
    this.markExited = resolve;
  }

  /** Can take new tasks now. */
  get open(): boolean {
    return (this.state === 'ready' || this.state === 'starting') && this.stuck === 0;
  }

  /** Counts toward `maxWorkers` (a retiring worker makes room for its replacement). */
  get live(): boolean {
    return this.state === 'ready' || this.state === 'starting';
  }

  /** The error its in-flight tasks reject with when it dies unexpectedly. */
  crashError(mode: string, info: ExitInfo): OffloadError {
    const tasks = [
      ...new Set(
        [...this.inFlight.values()]
          .filter((task) => !task.abandoned)
          .map((task) => `"${task.task}"`),
      ),
    ];
    const output = this.handle.output.text();
    const { reason, what } = this.#describe(info, output);
    const during =
      this.state === 'starting'
        ? ' while starting'
        : tasks.length
          ? ` while running ${tasks.join(', ')}`
          : '';
    const tail = lastLines(output, 12);
    return new OffloadError(
      ErrorCodes.WORKER_CRASHED,
      `${mode} worker (${this.handle.label}) ${what}${during}${tail ? `; its last output:\n${tail}` : ''}`,
      {
        cause: this.fatal ?? info.error,
        details: {
          reason,
          worker: this.handle.label,
          exitCode: info.code,
          signal: info.signal,
          tasks,
          output,
        },
      },
    );
  }

  #describe(info: ExitInfo, output: string): { reason: string; what: string } {
    if (this.killedFor)
      return { reason: 'terminated', what: `was ended because ${this.killedFor}` };
    const code = (info.error as { code?: unknown } | undefined)?.code;
    if (
      code === 'ERR_WORKER_OUT_OF_MEMORY' ||
      /heap out of memory|Reached heap limit/.test(output)
    ) {
      return {
        reason: 'out-of-memory',
        what: 'ran out of memory (raise resourceLimits.maxOldGenerationSizeMb, or find the leak)',
      };
    }
    if (this.fatal)
      return {
        reason: 'uncaught',
        what: `crashed on an uncaught ${this.fatal.name}: ${this.fatal.message}`,
      };
    if (info.error) return { reason: 'uncaught', what: `crashed: ${info.error.message}` };
    if (info.signal) return { reason: 'signal', what: `was killed by signal ${info.signal}` };
    const hint = this.state === 'starting' ? '' : ' (did a task call process.exit()?)';
    return { reason: 'exit', what: `exited with code ${info.code}${hint}` };
  }
}

function lastLines(text: string, count: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-count).join('\n').slice(-2000);
}
