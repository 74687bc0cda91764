import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LimitsState, Store } from '../store/contract.ts';
import type { Worker } from '../worker/worker.ts';

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics of one server: jobs by state and the flow control of limited queues (read
 * from the store at each scrape, so they cover every worker), and finished jobs, run and wait
 * times and pool use of the worker that runs in this process, when there is one.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #unsubscribe: Array<() => void> = [];

  constructor(store: Store, worker: Worker | undefined) {
    new Gauge({
      name: 'offload_jobs',
      help: 'Jobs in the store by queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const queue of await store.queueList()) {
          for (const [state, count] of Object.entries(queue.counts))
            this.set({ queue: queue.name, state }, count);
        }
      },
    });
    this.#limitGauges(store);
    const finished = new Counter({
      name: 'offload_jobs_finished_total',
      help: 'Jobs that ended (succeeded, failed for good, cancelled) or were scheduled for a retry, seen by this process',
      labelNames: ['queue', 'task', 'state'],
      registers: [this.registry],
    });
    for (const event of ['job:succeeded', 'job:failed', 'job:cancelled', 'job:retrying'] as const) {
      this.#unsubscribe.push(
        store.on(event, (job) =>
          finished.inc({
            queue: job.queue,
            task: job.task,
            state: event === 'job:retrying' ? 'retrying' : job.state,
          }),
        ),
      );
    }
    if (worker) this.#observeWorker(worker);
  }

  /** Flow control of every limited queue, read from the store once per scrape for all three gauges. */
  #limitGauges(store: Store): void {
    let reading: Promise<LimitsState[]> | undefined;
    const read = () => (reading ??= store.limitsList().finally(() => (reading = undefined)));
    const limitGauge = (name: string, help: string, value: (state: LimitsState) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const state of await read()) {
            const measured = value(state);
            if (measured !== null) this.set({ queue: state.queue }, measured);
          }
        },
      });
    limitGauge(
      'offload_queue_held_back_jobs',
      'Due jobs of a limited queue waiting while a limit (concurrency, rate, a hold) keeps them back',
      (state) => state.heldBack,
    );
    limitGauge(
      'offload_queue_limit_running',
      'Jobs of a limited queue holding a slot (running or claimed), across every worker',
      (state) => state.running,
    );
    limitGauge(
      'offload_queue_rate_tokens',
      "Starts a queue's rate window allows now (queues with a `rate` limit only)",
      (state) => state.tokens?.left ?? null,
    );
  }

  #observeWorker(worker: Worker): void {
    const runTime = new Histogram({
      name: 'offload_job_run_seconds',
      help: 'Time from a run start to its outcome',
      labelNames: ['queue', 'task'],
      buckets: SECONDS,
      registers: [this.registry],
    });
    const waitTime = new Histogram({
      name: 'offload_job_wait_seconds',
      help: 'Time from a job being due to its start',
      labelNames: ['queue'],
      buckets: SECONDS,
      registers: [this.registry],
    });
    const started = new Map<string, number>();
    const onStart = (job: {
      id: string;
      queue: string;
      runAt: number;
      startedAt: number | null;
    }) => {
      started.set(job.id, performance.now());
      if (job.startedAt !== null)
        waitTime.observe({ queue: job.queue }, Math.max(0, job.startedAt - job.runAt) / 1000);
    };
    const onEnd = (job: { id: string; queue: string; task: string }) => {
      const start = started.get(job.id);
      started.delete(job.id);
      if (start !== undefined)
        runTime.observe({ queue: job.queue, task: job.task }, (performance.now() - start) / 1000);
    };
    worker.on('job:start', onStart);
    worker.on('job:end', onEnd);
    this.#unsubscribe.push(
      () => worker.off('job:start', onStart),
      () => worker.off('job:end', onEnd),
    );

    new Gauge({
      name: 'offload_worker_running_jobs',
      help: 'Jobs this worker runs now',
      registers: [this.registry],
      collect() {
        this.set(worker.running);
      },
    });
    new Gauge({
      name: 'offload_worker_claimed_jobs',
      help: 'Jobs this worker has claimed ahead and holds until a slot frees',
      registers: [this.registry],
      collect() {
        this.set(worker.claimed);
      },
    });
    const poolGauge = (
      name: string,
      help: string,
      read: (stats: ReturnType<Worker['poolStats']>[number]['stats']) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const { key, stats } of worker.poolStats()) this.set({ pool: key }, read(stats));
        },
      });
    poolGauge(
      'offload_pool_utilisation',
      'Fraction of pool worker time spent running tasks since the pool started',
      (s) => s.utilisation,
    );
    poolGauge('offload_pool_workers', 'Threads or processes alive in the pool', (s) => s.workers);
    poolGauge('offload_pool_queued', 'Tasks waiting for a pool worker', (s) => s.queued);
  }

  /** The text exposition format. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}
