import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Job } from '../../src/core/job.ts';
import type { Store } from '../../src/store/contract.ts';
import type { Task } from '../../src/task/task.ts';
import { createWorker, type Worker, type WorkerOptions } from '../../src/worker/worker.ts';
import { sqliteFactory, type MakeStoreFactory } from '../store-contract/factory.ts';
import { waitFor } from './temp.ts';

/**
 * A worker and a queue over one store of fresh data (a SQLite file unless told), torn down by
 * `close()`. Pass `store` in the options to run on that store instead; the caller then closes it.
 */
export interface Harness {
  store: Store;
  queue: Queue;
  worker: Worker;
  /** Resolves with the job once it reaches a finished state. */
  finished(id: string, timeoutMs?: number): Promise<Job>;
  close(): Promise<void>;
}

export async function startHarness(
  tasks: Task[],
  options: Partial<WorkerOptions> = {},
  makeFactory: MakeStoreFactory = () => sqliteFactory('worker'),
): Promise<Harness> {
  const factory = options.store ? undefined : await makeFactory();
  const store = options.store ?? (await factory!.open());
  const queue = createQueue({ store, tasks });
  const worker = createWorker({ store, tasks, pollInterval: 50, blockThreshold: 0, ...options });
  await worker.start();
  return {
    store,
    queue,
    worker,
    async finished(id, timeoutMs = 15_000) {
      let job: Job | undefined;
      await waitFor(
        async () => {
          job = await queue.getJob(id);
          return job !== undefined && ['succeeded', 'failed', 'cancelled'].includes(job.state);
        },
        { timeoutMs, what: `job ${id} to finish` },
      );
      return job!;
    },
    async close() {
      await worker.stop();
      if (!factory) return;
      await store.close();
      await factory.destroy();
    },
  };
}
