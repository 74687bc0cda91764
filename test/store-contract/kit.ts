import type { ManualClock } from '../../src/core/clock.ts';
import type { ClaimedJob } from '../../src/core/job.ts';
import type { EnqueueParams, JobOutcome, LeaseRef, Store } from '../../src/store/contract.ts';

/** What the contract's feature files share: the store of the running test and its helpers. */
export interface ContractKit {
  store(): Store;
  clock(): ManualClock;
  /** Another connection to the same data. */
  open(): Promise<Store>;
  job(overrides?: Partial<EnqueueParams>): EnqueueParams;
  claim(
    limit?: number,
    params?: { queue?: string; tasks?: string[]; workerId?: string; on?: Store },
  ): Promise<ClaimedJob[]>;
  leaseOf(claimed: { id: string; attempts: number; fence: number }, workerId?: string): LeaseRef;
  succeed(lease: LeaseRef, result?: string): JobOutcome;
  leaseMs: number;
}
