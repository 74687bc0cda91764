import type { SerializedError } from '../../src/core/errors.ts';
import type { EnqueueParams, Store } from '../../src/store/contract.ts';

/**
 * Puts `n` jobs of `task` (in a queue of the same name unless given) on the store and fails each
 * for good with `error`, through the store's own claim and outcome path, as a worker whose task
 * failed would; `chunk` jobs per claim. Resolves with their ids.
 */
export async function failJobs(
  store: Store,
  options: {
    n: number;
    task: string;
    queue?: string;
    error?: SerializedError;
    chunk?: number;
  },
): Promise<string[]> {
  const queue = options.queue ?? options.task;
  const chunk = options.chunk ?? 1000;
  const error = options.error ?? { name: 'Error', message: 'the API is down', code: 'E_DOWN' };
  const job: EnqueueParams = {
    task: options.task,
    queue,
    payload: '{}',
    priority: 0,
    runAt: store.clock.now() - 1,
    maxAttempts: 1,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
  };
  const ids: string[] = [];
  for (let made = 0; made < options.n; made += chunk) {
    const size = Math.min(chunk, options.n - made);
    await store.jobEnqueueMany(Array.from({ length: size }, () => job));
    const claimed = await store.jobClaim({
      workerId: 'test:fail-jobs',
      queues: [{ name: queue, limit: size }],
      tasks: [options.task],
      leaseMs: 600_000,
    });
    await store.jobRecordOutcomes(
      claimed.map((j) => ({
        kind: 'failed' as const,
        lease: { id: j.id, workerId: 'test:fail-jobs', attempt: j.attempts, fence: j.fence },
        error,
        retryAt: null,
      })),
    );
    ids.push(...claimed.map((j) => j.id));
  }
  return ids;
}
