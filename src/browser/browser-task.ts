import { PendingRun } from '../pool/shared/pending-run.ts';
import type { BrowserRunOptions } from './contract.ts';
import type { WorkerSlot } from './worker-slot.ts';

/** One `run()` call of a browser pool, from submission until it settles. */
export class BrowserTask extends PendingRun<BrowserRunOptions> {
  slot: WorkerSlot | undefined;
}
