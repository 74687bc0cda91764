import type { ExecutionMode } from '../../task/task.ts';

/** Percentiles of a time, in milliseconds, over the most recent tasks (up to 4 096). */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** What `pool.stats()` returns: counts since the pool started and recent timings. */
export interface PoolStats {
  mode: ExecutionMode;
  /** Threads or processes alive now (`inline`: 0). */
  workers: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Tasks handed to a worker and not yet finished. */
  running: number;
  /** Tasks that returned a value. */
  completed: number;
  /** Tasks that threw or rejected (timeouts, cancellations and crashes not included). */
  failed: number;
  cancelled: number;
  timedOut: number;
  /** Tasks lost because their thread or process died. */
  crashed: number;
  workersStarted: number;
  /** Threads or processes that died unexpectedly (start-up failures included). */
  workersCrashed: number;
  workersRecycled: number;
  /** Fraction of worker time spent running tasks since the pool started (0–1). */
  utilisation: number;
  /** Time from the task's start to its end, as measured inside the worker. */
  runTime: Percentiles;
  /** Time from `run()` to the task's start, hand-off included. */
  waitTime: Percentiles;
}

const WINDOW = 4096;

/** A fixed ring of recent samples. */
class Samples {
  readonly #values = new Float64Array(WINDOW);
  #count = 0;

  add(value: number): void {
    this.#values[this.#count++ % WINDOW] = value;
  }

  summary(): Percentiles {
    const sorted = this.#values.slice(0, Math.min(this.#count, WINDOW)).sort();
    if (sorted.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
    const at = (q: number) =>
      round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
    return {
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: round(sorted[sorted.length - 1]!),
      mean: round(mean),
    };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

export type Counter =
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timedOut'
  | 'crashed'
  | 'workersStarted'
  | 'workersCrashed'
  | 'workersRecycled';

/** Counts and timings of one pool. */
export class PoolStatsRecorder {
  readonly counts: Record<Counter, number> = {
    completed: 0,
    failed: 0,
    cancelled: 0,
    timedOut: 0,
    crashed: 0,
    workersStarted: 0,
    workersCrashed: 0,
    workersRecycled: 0,
  };
  readonly #run = new Samples();
  readonly #wait = new Samples();
  #busyMs = 0;
  #endedWorkerMs = 0;

  /** One finished task: how long it ran, and how long since it was submitted. */
  task(runMs: number, totalMs: number): void {
    this.#run.add(runMs);
    this.#wait.add(Math.max(0, totalMs - runMs));
    this.#busyMs += runMs;
  }

  workerEnded(startedAt: number): void {
    this.#endedWorkerMs += performance.now() - startedAt;
  }

  snapshot(
    base: { mode: ExecutionMode; workers: number; queued: number; running: number },
    liveStarts: readonly number[],
  ): PoolStats {
    const now = performance.now();
    const workerMs =
      this.#endedWorkerMs + liveStarts.reduce((sum, start) => sum + (now - start), 0);
    return {
      ...base,
      ...this.counts,
      utilisation: workerMs > 0 ? Math.min(1, round(this.#busyMs / workerMs)) : 0,
      runTime: this.#run.summary(),
      waitTime: this.#wait.summary(),
    };
  }
}
