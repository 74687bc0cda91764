import { callSafely } from './shared/call-safely.ts';
import type { RunOptions } from './contract.ts';
import { PendingRun } from './shared/pending-run.ts';
import type { PoolWorker } from './pool-worker.ts';

/** One `run()` call of a Node pool (inline, thread or process), from submission until it settles. */
export class PendingTask extends PendingRun<RunOptions> {
  worker: PoolWorker | undefined;
  /** Settled (timed out or cancelled) while its worker still runs it. */
  abandoned = false;
  /** Its worker answered; it settles on the next turn. */
  answered = false;
  /** Where its worker's output stood when it was sent: its output tail starts there. */
  outputFrom = 0;

  protected override beforeSettle(): void {
    if (this.options?.onOutput && this.worker)
      callSafely(this.options.onOutput, this.worker.handle.output.text(this.outputFrom));
  }
}
