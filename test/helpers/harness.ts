import path from 'node:path';
import { createQueue, type Queue } from '../../src/queue.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Job } from '../../src/job.ts';
import type { Task } from '../../src/task.ts';
import { createWorker, type Worker, type WorkerOptions } from '../../src/worker/worker.ts';
import { makeTempDir, waitFor } from './temp.ts';

/**
 * A worker, a queue and a real SQLite file in a temp folder, torn down by `close()`. Pass `store`
 * to run on that store instead; the caller then closes it.
 */
export interface Harness {
  queue: Queue;
  worker: Worker;
  /** Resolves with the job once it reaches a finished state. */
  finished(id: string, timeoutMs?: number): Promise<Job>;
  close(): Promise<void>;
}

export async function startHarness(
  tasks: Task[],
  options: Partial<WorkerOptions> = {},
): Promise<Harness> {
  const { dir, cleanup } = makeTempDir('worker');
  const store = options.store ?? createSqliteStore({ path: path.join(dir, 'jobs.db') });
  const queue = createQueue({ store, tasks });
  const worker = createWorker({ store, tasks, pollInterval: 50, blockThreshold: 0, ...options });
  await worker.start();
  return {
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
      if (!options.store) await store.close();
      cleanup();
    },
  };
}
