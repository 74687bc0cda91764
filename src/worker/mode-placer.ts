import { performance } from 'node:perf_hooks';
import { chooseMode, DEFAULT_HANDOFF_MS } from '../core/mode-rule.ts';
import type { ExecutionMode, Task } from '../task/task.ts';
import type { Executor } from './job-run.ts';

/** Where one job runs and why: passed with the worker's `job:start` event. */
export interface JobPlacement {
  mode: ExecutionMode;
  reason: string;
}

/** Most characters of a placement kept on the job record. */
const PLACEMENT_CHARS = 500;

/** A placement as the job record keeps it: `thread: auto: a run holds the event loop for …`. */
export function describePlacement(placement: JobPlacement): string {
  let description = descriptions.get(placement);
  if (description === undefined)
    descriptions.set(
      placement,
      (description = `${placement.mode}: ${placement.reason}`.slice(0, PLACEMENT_CHARS)),
    );
  return description;
}

/** Descriptions of placements shared by many jobs (fixed modes), made once each. */
const descriptions = new WeakMap<JobPlacement, string>();

/** A task placed in a thread runs inline once in this many runs, to measure it again. */
export const RECHECK_EVERY = 50;

interface AutoState {
  current: 'inline' | 'thread';
  reason: string;
  /** How long the last inline run held the event loop (ms); undefined before the first. */
  lastMs: number | undefined;
  runsSinceCheck: number;
}

/**
 * Places each job of a task: a fixed mode as the task says, `auto` by the rule of core/mode-rule.ts.
 * An `auto` task starts inline; each inline run's first synchronous stretch is how long it held the
 * event loop, and the hand-off cost is the thread pool's measured round trip (a default until it
 * has one). The evidence is the shorter of the last two inline runs: a garbage-collector pause or
 * the OS taking the CPU can make any one run slow, never fast, so a cheap task is not moved by one
 * unlucky run, and a task in a thread whose recheck runs fast comes back at once. While in a
 * thread, one run in RECHECK_EVERY runs inline again to measure it.
 */
export class ModePlacer {
  readonly #auto = new Map<string, AutoState>();
  /** The placement of each task with a fixed mode: the same for every job, so made once. */
  readonly #fixed = new WeakMap<Task, JobPlacement>();
  readonly #handoffMs: () => number | undefined;
  readonly #onMove: (task: Task, placement: JobPlacement) => void;

  constructor(options: {
    handoffMs: () => number | undefined;
    onMove: (task: Task, placement: JobPlacement) => void;
  }) {
    this.#handoffMs = options.handoffMs;
    this.#onMove = options.onMove;
  }

  /** The mode the task's next job would run in (for claiming only while that mode has room). */
  current(task: Task): ExecutionMode {
    return task.mode === 'auto' ? this.#state(task).current : task.mode;
  }

  /** Places one job. */
  place(task: Task): JobPlacement {
    if (task.mode !== 'auto') {
      let placement = this.#fixed.get(task);
      if (!placement)
        this.#fixed.set(
          task,
          (placement = {
            mode: task.mode,
            reason: task.isolate ? 'isolate: true' : `mode: '${task.mode}' set on the task`,
          }),
        );
      return placement;
    }
    const state = this.#state(task);
    if (state.current === 'thread' && ++state.runsSinceCheck >= RECHECK_EVERY) {
      state.runsSinceCheck = 0;
      return {
        mode: 'inline',
        reason: `auto: measuring again inline (one run in ${RECHECK_EVERY})`,
      };
    }
    return { mode: state.current, reason: `auto: ${state.reason}` };
  }

  /** Wraps the inline executor of an `auto` task so each run's loop blocking is recorded. */
  measured(inline: Executor): Executor {
    return (task, payload, ctx, facts) => {
      const start = performance.now();
      try {
        return inline(task, payload, ctx, facts);
      } finally {
        this.#observe(task, performance.now() - start);
      }
    };
  }

  #observe(task: Task, blockMs: number): void {
    const state = this.#state(task);
    const previous = state.lastMs;
    state.lastMs = blockMs;
    if (previous === undefined) return;
    const choice = chooseMode(
      { blockMs: Math.min(previous, blockMs), handoffMs: this.#handoffMs() ?? DEFAULT_HANDOFF_MS },
      state.current,
    );
    state.reason = choice.reason;
    if (choice.mode === state.current) return;
    state.current = choice.mode;
    state.runsSinceCheck = 0;
    this.#onMove(task, { mode: choice.mode, reason: `auto: ${choice.reason}` });
  }

  #state(task: Task): AutoState {
    let state = this.#auto.get(task.name);
    if (!state) {
      state = {
        current: 'inline',
        reason: 'starts inline until two runs are measured',
        lastMs: undefined,
        runsSinceCheck: 0,
      };
      this.#auto.set(task.name, state);
    }
    return state;
  }
}
