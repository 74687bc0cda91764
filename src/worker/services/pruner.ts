import { IntervalService, type Service, type ServiceDeps } from './service.ts';

/** What the pruner needs of its worker. */
export interface PrunerDeps extends ServiceDeps {
  /** Finished jobs older than this (ms) are deleted. */
  maxAge: number;
  /** How often to look (ms). */
  intervalMs: number;
}

/**
 * Retention: every `intervalMs`, deletes succeeded, failed and cancelled jobs that finished more
 * than `maxAge` ms ago (the store keeps its newest job whatever its age).
 */
export class Pruner implements Service {
  readonly #deps: PrunerDeps;
  readonly #timer: IntervalService;

  constructor(deps: PrunerDeps) {
    this.#deps = deps;
    this.#timer = new IntervalService(deps.intervalMs, () => this.prune());
  }

  start(): void {
    this.#timer.start();
  }

  stop(): void {
    this.#timer.stop();
  }

  /** Deletes the finished jobs past retention once now; never rejects. */
  async prune(): Promise<void> {
    const { store, maxAge } = this.#deps;
    try {
      const deleted = await store.jobDeleteFinished({ before: store.clock.now() - maxAge });
      if (deleted > 0) this.#deps.log.info({ deleted }, 'deleted finished jobs past retention');
    } catch (error) {
      this.#deps.fail(error, 'retention failed');
    }
  }
}
