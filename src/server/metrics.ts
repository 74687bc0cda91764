import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobOutcome, LimitsState, Store } from '../store/contract.ts';
import type { Worker } from '../worker/worker.ts';

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Prometheus metrics of one process: jobs by state and the flow control of limited queues (read
 * from the store at each scrape, so every replica reports the same), and finished jobs, run and
 * wait times and pool use of the worker that runs in this process, when there is one, each
 * labelled `worker` with its id so several workers can be scraped side by side. Served by the
 * HTTP API's `/metrics` and by {@link serveMetrics} (`offload worker --metrics-port`); the names
 * and labels are listed in docs/observability.md.
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
    const id = { worker: worker.id };
    const runTime = new Histogram({
      name: 'offload_job_run_seconds',
      help: 'Time from a run start to its outcome, for runs of this worker',
      labelNames: ['queue', 'task', 'worker'],
      buckets: SECONDS,
      registers: [this.registry],
    });
    const waitTime = new Histogram({
      name: 'offload_job_wait_seconds',
      help: 'Time from a job being due to its start, for runs of this worker',
      labelNames: ['queue', 'worker'],
      buckets: SECONDS,
      registers: [this.registry],
    });
    const runs = new Counter({
      name: 'offload_worker_jobs_total',
      help: 'Runs this worker ended, by outcome (succeeded, failed, retrying, snoozed, rateLimited, released, abandoned)',
      labelNames: ['queue', 'task', 'worker', 'outcome'],
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
        waitTime.observe(
          { queue: job.queue, ...id },
          Math.max(0, job.startedAt - job.runAt) / 1000,
        );
    };
    const onEnd = (
      job: { id: string; queue: string; task: string },
      outcome: JobOutcome | null,
    ) => {
      const start = started.get(job.id);
      started.delete(job.id);
      const labels = { queue: job.queue, task: job.task, ...id };
      runs.inc({ ...labels, outcome: outcomeLabel(outcome) });
      if (start !== undefined) runTime.observe(labels, (performance.now() - start) / 1000);
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
      labelNames: ['worker'],
      registers: [this.registry],
      collect() {
        this.set(id, worker.running);
      },
    });
    new Gauge({
      name: 'offload_worker_claimed_jobs',
      help: 'Jobs this worker has claimed ahead and holds until a slot frees',
      labelNames: ['worker'],
      registers: [this.registry],
      collect() {
        this.set(id, worker.claimed);
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
        labelNames: ['pool', 'worker'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const { key, stats } of worker.poolStats())
            this.set({ pool: key, ...id }, read(stats));
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

/**
 * A run's outcome as the `outcome` label: a failure with a retry left is `retrying`; a run that
 * recorded none (cancelled while it ran, its lease lost) is `abandoned`.
 */
function outcomeLabel(outcome: JobOutcome | null): string {
  if (outcome === null) return 'abandoned';
  if (outcome.kind === 'failed' && outcome.retryAt !== null) return 'retrying';
  return outcome.kind;
}
