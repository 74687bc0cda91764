import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from '../../src/core/job.ts';
import type { QueueLimits } from '../../src/store/contract.ts';
import { testStores } from '../helpers/stores.ts';
import { allJobs, enqueueAll, flowJob, flowSetup, groupBy, QUEUE } from './flow-kit.ts';

const WORKERS = 4;
const CONCURRENCY = 8;
const KEYS = ['r0', 'r1', 'r2'];
const RATE = { limit: 50, per: 1000 };
const LIMITS: QueueLimits = { keyRate: RATE };
/** More than the run can start: 50 a second for RUN_MS. */
const BACKLOG_PER_KEY = 500;
const RUN_MS = 6000;

/** The first `limit + 1` jobs (in start order) whose starts fit in one window of `per` ms, or null. */
function crowdedWindow(jobs: readonly Job[]): Job[] | null {
  for (let i = 0; i + RATE.limit < jobs.length; i++)
    if (jobs[i + RATE.limit]!.startedAt! - jobs[i]!.startedAt! < RATE.per)
      return jobs.slice(i, i + RATE.limit + 1);
  return null;
}

function describeWindow(key: string, jobs: readonly Job[]): string {
  const span = jobs.at(-1)!.startedAt! - jobs[0]!.startedAt!;
  const lines = jobs.map((job) => `job ${job.id} startedAt ${job.startedAt}`);
  return `${jobs.length} starts of ${key} within ${span} ms:\n${lines.join('\n')}`;
}

describe('flow control with worker processes: rate windows', () => {
  for (const factory of testStores) {
    it(
      `${factory.name}: ${WORKERS} workers, keyRate ${RATE.limit}/${RATE.per} ms on ${KEYS.length} keys with a backlog: no window of a key holds more than ${RATE.limit} starts, and each key gets its rate`,
      { timeout: 60_000 },
      async () => {
        const setup = await flowSetup(await factory.make('flow-rate'), 'flow-rate');
        try {
          const { store } = setup;
          await store.limitsSet({ queue: QUEUE, layer: 'runtime', limits: LIMITS });
          await Promise.all(
            Array.from({ length: WORKERS }, () => setup.startWorker({ concurrency: CONCURRENCY })),
          );
          await enqueueAll(
            store,
            Array.from({ length: BACKLOG_PER_KEY * KEYS.length }, (_, n) =>
              flowJob({ key: KEYS[n % KEYS.length]!, ms: 5 }),
            ),
          );
          await sleep(RUN_MS);
          const stoppedAt = Date.now();
          await setup.stopWorkers();

          const jobs = await allJobs(store, { queue: QUEUE });
          const started = jobs.filter((job) => job.attempts > 0);
          for (const job of started) {
            assert.equal(job.state, 'succeeded', `job ${job.id} ran to its end`);
            assert.equal(job.attempts, 1, `job ${job.id} started once`);
          }
          const byKey = groupBy(started, (job) => job.key!);
          assert.deepEqual([...byKey.keys()].sort(), KEYS, 'every key started jobs');
          for (const [key, keyJobs] of byKey) {
            assert.ok(keyJobs.length < BACKLOG_PER_KEY, `${key} still had a backlog at the end`);
            const inOrder = keyJobs.sort(
              (a, b) => a.startedAt! - b.startedAt! || Number(a.id) - Number(b.id),
            );
            const crowded = crowdedWindow(inOrder);
            assert.equal(crowded && describeWindow(key, crowded), null);
            const starts = inOrder.map((job) => job.startedAt!);
            const seconds = Math.floor((stoppedAt - starts[0]!) / 1000);
            const inWhole = starts.filter((at) => at < starts[0]! + seconds * 1000).length;
            console.log(
              `${key}: ${inWhole} starts in the first ${seconds} s, ${starts.length} in all`,
            );
            assert.ok(
              inWhole >= 0.95 * RATE.limit * seconds,
              `${key}: ${inWhole} starts in ${seconds} s, wanted about ${RATE.limit * seconds}`,
            );
          }
        } finally {
          await setup.cleanup();
        }
      },
    );
  }
});
