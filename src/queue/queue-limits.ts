import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { parseQueueLimits, type QueueLimitsInput } from '../core/flow-limits.ts';
import { JOB_STATES, type JobState } from '../core/job.ts';
import { optionSchemas } from '../core/options.ts';
import type { LimitsState, QueueInfo, Store } from '../store/contract.ts';

/**
 * Flow control as the producer side sees it: the runtime layer of a queue's limits, set and
 * cleared by people (CLI, HTTP, dashboard), over the declared layer task modules write.
 */

/** A queue as listings show it: its counts, and its flow control when it has any. */
export interface QueueWithLimits extends QueueInfo {
  limits: LimitsState | null;
}

/** A queue name, or ERR_INVALID_OPTION naming `label`. */
export function queueName(label: string, queue: unknown): string {
  const parsed = optionSchemas.name.safeParse(queue);
  if (parsed.success) return parsed.data;
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `${label}: queue ${typeof queue === 'string' ? `"${queue}"` : String(queue)} ${parsed.error.issues[0]!.message}`,
    { details: { label, option: 'queue' } },
  );
}

/**
 * Validates `limits` and writes them as the queue's runtime layer (null clears it); resolves with
 * the queue's flow control as it now stands (undefined when it has none left).
 */
export async function setRuntimeLimits(
  store: Store,
  queue: string,
  limits: QueueLimitsInput | null,
): Promise<LimitsState | undefined> {
  const name = queueName('setLimits', queue);
  const parsed = limits === null ? null : parseQueueLimits('setLimits', limits);
  await store.limitsSet({ queue: name, layer: 'runtime', limits: parsed });
  return store.limitsGet({ queue: name });
}

/**
 * Every queue that holds jobs, was paused or has flow control, by name, each with its limits and
 * their live state (null for an unlimited queue).
 */
export async function listQueuesWithLimits(store: Store): Promise<QueueWithLimits[]> {
  const [queues, limits] = await Promise.all([store.queueList(), store.limitsList()]);
  const byQueue = new Map(limits.map((state) => [state.queue, state]));
  const listed: QueueWithLimits[] = queues.map((queue) => ({
    ...queue,
    limits: byQueue.get(queue.name) ?? null,
  }));
  const known = new Set(queues.map((queue) => queue.name));
  for (const state of limits) {
    if (!known.has(state.queue))
      listed.push({ name: state.queue, paused: false, counts: noCounts(), limits: state });
  }
  return listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function noCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
}
