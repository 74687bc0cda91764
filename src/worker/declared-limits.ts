import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { QueueLimits } from '../store/contract.ts';
import type { Task } from '../task/task.ts';

/**
 * The flow control each queue gets from the tasks that declare some (`concurrency`, `rateLimit`,
 * `order` on `defineTask`). A queue has one set of limits, so two of its tasks declaring different
 * ones throw ERR_INVALID_OPTION naming both; tasks that declare nothing agree with any.
 */
export function declaredLimits(tasks: readonly Task[]): Map<string, QueueLimits> {
  const declared = new Map<string, { limits: QueueLimits; task: string }>();
  for (const task of tasks) {
    if (!task.limits) continue;
    const first = declared.get(task.queue);
    if (!first) {
      declared.set(task.queue, { limits: task.limits, task: task.name });
      continue;
    }
    if (canonical(first.limits) === canonical(task.limits)) continue;
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `createWorker: tasks "${first.task}" and "${task.name}" both run in queue "${task.queue}" and declare different limits (${canonical(first.limits)} and ${canonical(task.limits)}); a queue has one set of limits: declare the same concurrency, rateLimit and order on both, declare them on one of them only, or put the tasks in queues of their own`,
      { details: { label: 'createWorker', queue: task.queue, tasks: [first.task, task.name] } },
    );
  }
  return new Map([...declared].map(([queue, { limits }]) => [queue, limits]));
}

/** JSON with sorted keys at every level, so limits written in another order compare equal. */
function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`;
}
