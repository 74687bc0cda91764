import type { JobOutcome } from '../store/contract.ts';

/** What {@link Worker.runUntilIdle} did: the runs that ended, by how they ended. */
export interface RunSummary {
  /** Runs that ended, all kinds counted. */
  jobs: number;
  succeeded: number;
  /** Failed for good: no attempts left, or `ctx.fail`. */
  failed: number;
  /** Failed with attempts left: back on the queue for a later run (not run again by this call unless due before it ended). */
  retried: number;
  /** Put back by `ctx.snooze` or `ctx.rateLimited`, without counting an attempt. */
  snoozed: number;
  /** Ended with nothing recorded by this worker: cancelled while running, or its lease lost. */
  abandoned: number;
  /** From the call to the worker's stop, in milliseconds. */
  durationMs: number;
}

/** Counts run outcomes into a {@link RunSummary}. */
export class RunTally {
  readonly #summary: RunSummary = {
    jobs: 0,
    succeeded: 0,
    failed: 0,
    retried: 0,
    snoozed: 0,
    abandoned: 0,
    durationMs: 0,
  };
  readonly #start = performance.now();

  /** One run ended with `outcome` (null: nothing to record). */
  add(outcome: JobOutcome | null): void {
    const summary = this.#summary;
    summary.jobs++;
    if (!outcome || outcome.kind === 'released' || outcome.kind === 'started') summary.abandoned++;
    else if (outcome.kind === 'succeeded') summary.succeeded++;
    else if (outcome.kind === 'failed') summary[outcome.retryAt === null ? 'failed' : 'retried']++;
    else summary.snoozed++;
  }

  /** The counts so far, with the time since the tally began. */
  summary(): RunSummary {
    return { ...this.#summary, durationMs: Math.round(performance.now() - this.#start) };
  }
}
