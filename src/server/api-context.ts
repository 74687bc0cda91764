import type { Queue } from '../queue/queue.ts';
import type { Store } from '../store/contract.ts';
import type { Task } from '../task/task.ts';
import type { JobWatcher } from './job-watcher.ts';

/** What route handlers share: the producer side, the watcher of open waits, and the known tasks. */
export interface ApiContext {
  store: Store;
  queue: Queue;
  watcher: JobWatcher;
  /** Task handles this server was given (their schemas are checked and described). */
  tasks: readonly Task[];
  /** Longest `?wait=` honoured, in ms. */
  maxWaitMs: number;
  /** Sent as `Retry-After` (seconds) with 202 answers and unfinished long polls. */
  retryAfterSeconds: number;
  /** offload's data folder, where the last `offload bench switch` result is kept. */
  dataDir: string | undefined;
}
