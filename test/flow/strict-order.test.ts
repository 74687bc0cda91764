import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueueLimits } from '../../src/store/contract.ts';
import { testStores } from '../helpers/stores.ts';
import { waitFor } from '../helpers/temp.ts';
import { allJobs, enqueueAll, flowJob, flowSetup, groupBy, QUEUE, runsOf } from './flow-kit.ts';

const WORKERS = 2;
const CONCURRENCY = 4;
const KEYS = ['s0', 's1', 's2', 's3', 's4', 's5'];
const JOBS_PER_KEY = 45;
const TOTAL = KEYS.length * JOBS_PER_KEY;
const LIMITS: QueueLimits = { order: 'strict' };

describe('flow control with worker processes: strict order per key', () => {
  for (const factory of testStores) {
    it(
      `${factory.name}: ${TOTAL} jobs on ${KEYS.length} keys, every third failing twice before it succeeds: each key runs one job at a time, in enqueue order, retries included`,
      { timeout: 90_000 },
      async () => {
        const setup = await flowSetup(await factory.make('flow-strict'), 'flow-strict');
        try {
          const { store } = setup;
          await store.limitsSet({ queue: QUEUE, layer: 'runtime', limits: LIMITS });
          // Keys interleaved; within a key, every third job (its 3rd, 6th, ...) fails its first two attempts.
          const made = await enqueueAll(
            store,
            Array.from({ length: TOTAL }, (_, n) => {
              const nth = Math.floor(n / KEYS.length);
              const fail = nth % 3 === 2 ? 2 : 0;
              return flowJob({ key: KEYS[n % KEYS.length]!, ms: 3, fail }, { maxAttempts: 3 });
            }),
          );
          await Promise.all(
            Array.from({ length: WORKERS }, () => setup.startWorker({ concurrency: CONCURRENCY })),
          );
          await waitFor(async () => (await store.jobCount({ queue: QUEUE })).succeeded === TOTAL, {
            timeoutMs: 60_000,
            intervalMs: 50,
            what: 'every job to succeed',
          });
          await setup.stopWorkers();

          const jobs = new Map((await allJobs(store, { queue: QUEUE })).map((j) => [j.id, j]));
          for (const { id } of made) {
            const job = jobs.get(id)!;
            const fail = (job.payload as { fail: number }).fail;
            assert.equal(job.state, 'succeeded', `job ${id}`);
            assert.equal(job.attempts, fail + 1, `job ${id} failed ${fail} times, then succeeded`);
          }
          const runs = runsOf(setup.log.rows());
          assert.equal(runs.length, TOTAL + (TOTAL / 3) * 2, 'one run per attempt');
          assert.ok(
            runs.every((run) => run.end !== null),
            'every run ended',
          );
          const enqueued = groupBy(made, (job) => job.key!);
          for (const [key, keyRuns] of groupBy(runs, (run) => run.key)) {
            for (let i = 1; i < keyRuns.length; i++) {
              const [before, run] = [keyRuns[i - 1]!, keyRuns[i]!];
              assert.ok(
                before.end! <= run.start,
                `${key}: job ${run.job} attempt ${run.attempt} started at ${run.start}, while job ${before.job} attempt ${before.attempt} ran (${before.start} → ${before.end})`,
              );
              assert.ok(
                run.job >= before.job,
                `${key}: job ${before.job} (attempt ${before.attempt}) ran before attempt ${run.attempt} of job ${run.job}, which was enqueued earlier and not done`,
              );
            }
            const successes = keyRuns.filter(
              (run) => run.attempt === jobs.get(String(run.job))!.attempts,
            );
            assert.deepEqual(
              successes.map((run) => String(run.job)),
              enqueued.get(key)!.map((job) => job.id),
              `${key}: the successful runs start in enqueue order`,
            );
          }
        } finally {
          await setup.cleanup();
        }
      },
    );
  }
});
