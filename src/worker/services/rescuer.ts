import { jobLogFields } from '../job-log.ts';
import { IntervalService, type Service, type ServiceDeps } from './service.ts';

/** What the rescuer needs of its worker. */
export interface RescuerDeps extends ServiceDeps {
  /** How often to look (ms): the worker's `recoveryInterval`. */
  intervalMs: number;
  /** Called when jobs went back to their queues: look for work again. */
  onRescued(): void;
}

/**
 * Every `intervalMs`, requeues running jobs whose lease expired (their worker died or stalled),
 * or fails them when their attempts are spent, then wakes the producer. Recovery of a dead
 * worker's jobs so takes at most its lease plus this interval.
 */
export class Rescuer implements Service {
  readonly #deps: RescuerDeps;
  readonly #timer: IntervalService;

  constructor(deps: RescuerDeps) {
    this.#deps = deps;
    this.#timer = new IntervalService(deps.intervalMs, () => this.rescue());
  }

  start(): void {
    this.#timer.start();
  }

  stop(): void {
    this.#timer.stop();
  }

  /** Rescues expired jobs once now; never rejects. */
  async rescue(): Promise<void> {
    try {
      const { requeued, failed } = await this.#deps.store.jobRecoverExpired();
      if (requeued.length || failed.length) {
        this.#deps.onRescued();
        await this.#logRecovered(requeued, 'requeued');
        await this.#logRecovered(failed, 'failed: its attempts are spent');
      }
    } catch (error) {
      this.#deps.fail(error, 'recovering expired leases failed');
    }
  }

  /** One line per recovered job, with its fields (read back: recoveries are rare, lines are not). */
  async #logRecovered(ids: readonly string[], what: string): Promise<void> {
    const { log, store } = this.#deps;
    for (const id of ids) {
      const job = await store.jobGet({ id });
      log.warn(
        job ? jobLogFields(job) : { job: id },
        `recovered job ${id}${job ? ` ${job.task}` : ''}, whose worker stopped renewing its lease: ${what}`,
      );
    }
  }
}
