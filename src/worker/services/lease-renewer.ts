import type { ClaimedJob } from '../../core/job.ts';
import { jobLogFields } from '../job-log.ts';
import { leaseOf, type JobRun } from '../job-run.ts';
import { IntervalService, type Service, type ServiceDeps } from './service.ts';

/** What the lease renewer needs of its worker. */
export interface LeaseRenewerDeps extends ServiceDeps {
  workerId: string;
  /** How long a renewed lease lasts (ms); renewed every third of it. */
  leaseMs: number;
  /** The runs in progress, by job id. */
  active: ReadonlyMap<string, JobRun>;
  /** Jobs claimed ahead that have not started. */
  waiting(): readonly ClaimedJob[];
  /** Drops a job claimed ahead; false when it is not waiting. */
  dropWaiting(id: string): boolean;
}

/**
 * Every third of `leaseMs`, extends the leases of a worker's running and claimed-ahead jobs in
 * one store call. A run whose lease is gone (cancelled, or expired and claimed by another worker)
 * is aborted with `lease-lost`; a waiting job whose lease is gone is dropped unstarted.
 */
export class LeaseRenewer implements Service {
  readonly #deps: LeaseRenewerDeps;
  readonly #timer: IntervalService;

  constructor(deps: LeaseRenewerDeps) {
    this.#deps = deps;
    this.#timer = new IntervalService(Math.floor(deps.leaseMs / 3), () => this.renew());
  }

  start(): void {
    this.#timer.start();
  }

  stop(): void {
    this.#timer.stop();
  }

  /** Renews every held lease once now; never rejects. */
  async renew(): Promise<void> {
    const { active, store, workerId } = this.#deps;
    const waiting = this.#deps.waiting();
    if (active.size === 0 && waiting.length === 0) return;
    const runs = new Map(active);
    try {
      const leases = [
        ...[...runs.values()].map((run) => run.lease),
        ...waiting.map((job) => leaseOf(job, workerId)),
      ];
      const lost = await store.jobRenewLeases({ leases, leaseMs: this.#deps.leaseMs });
      for (const id of lost) this.#lost(id, runs.get(id));
    } catch (error) {
      this.#deps.fail(error, 'renewing leases failed');
    }
  }

  /** The lease of job `id` is gone: drop it if it waits, stop its run if that is still going. */
  #lost(id: string, run: JobRun | undefined): void {
    const waiting = this.#deps.waiting().find((job) => job.id === id);
    if (this.#deps.dropWaiting(id)) {
      this.#deps.log.warn(
        waiting ? jobLogFields(waiting) : { job: id },
        `lost the lease of job ${id} before it started (cancelled, or expired and moved on); dropping it`,
      );
      return;
    }
    if (run && this.#deps.active.get(id) === run) {
      run.log.warn(`lost the lease of job ${id} (cancelled, or expired and moved on); stopping it`);
      run.abort('lease-lost');
    }
  }
}
