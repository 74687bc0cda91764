import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { BrowserTask } from './browser-task.ts';

/** One Web Worker of a browser pool and what the pool knows about it. */
export class WorkerSlot {
  readonly worker: Worker;
  readonly label: string;
  readonly startedAt = performance.now();
  state: 'starting' | 'ready' | 'dead' = 'starting';
  /** The one task it runs, if any. */
  task: BrowserTask | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(worker: Worker, label: string) {
    this.worker = worker;
    this.label = label;
  }

  /** The error its task rejects with when it dies: `cause` is what the worker reported. */
  crashError(cause: Error | undefined, fallback: string): OffloadError {
    const task = this.task
      ? ` while running "${this.task.task}"`
      : this.state === 'starting'
        ? ' while starting'
        : '';
    const closed = (cause as { code?: unknown } | undefined)?.code === ErrorCodes.WORKER_CRASHED;
    const what = !cause
      ? fallback
      : closed
        ? `ended: ${cause.message}`
        : `crashed on an uncaught ${cause.name}: ${cause.message}`;
    return new OffloadError(
      ErrorCodes.WORKER_CRASHED,
      `${this.label} ${what}${task}; a fresh worker takes its place`,
      {
        cause,
        details: {
          reason: closed ? 'closed' : 'uncaught',
          worker: this.label,
          tasks: this.task ? [this.task.task] : [],
        },
      },
    );
  }
}
