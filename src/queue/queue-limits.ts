import { JOB_STATES, type JobState } from '../core/job.ts';
import type { LimitsState, QueueInfo, Store } from '../store/contract.ts';

/**
 * Queues as listings show them (HTTP, CLI, dashboard): counts and flow control side by side. Kept
 * apart from queue.ts, so `import 'offload'` does not load it.
 */

/** A queue as listings show it: its counts, and its flow control when it has any. */
export interface QueueWithLimits extends QueueInfo {
  limits: LimitsState | null;
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
