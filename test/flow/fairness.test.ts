import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueueLimits } from '../../src/store/contract.ts';
import { testStores } from '../helpers/stores.ts';
import { waitFor } from '../helpers/temp.ts';
import { allJobs, enqueueAll, flowJob, flowSetup, QUEUE } from './flow-kit.ts';

const CONCURRENCY = 10;
const BACKLOG = 20_000;
const LIMITS: QueueLimits = { keyConcurrency: 20 };

describe('flow control with worker processes: fairness between keys', () => {
  for (const factory of testStores) {
    it(
      `${factory.name}: tenant A has ${BACKLOG} jobs waiting, tenant B enqueues one: B starts within one claim`,
      { timeout: 90_000 },
      async () => {
        const setup = await flowSetup(await factory.make('flow-fair'), 'flow-fair');
        try {
          const { store } = setup;
          await store.limitsSet({ queue: QUEUE, layer: 'runtime', limits: LIMITS });
          await enqueueAll(
            store,
            Array.from({ length: BACKLOG }, () => flowJob({ key: 'A', ms: 2 })),
          );
          await setup.startWorker({ concurrency: CONCURRENCY });
          const succeeded = async () => (await store.jobCount({ queue: QUEUE })).succeeded;
          await waitFor(async () => (await succeeded()) >= 100, {
            intervalMs: 20,
            what: "A's jobs to flow",
          });
          const [b] = await enqueueAll(store, [flowJob({ key: 'B', ms: 2 })]);
          // Its created-at is read before its insert waits for the write lock; from here it is in the store.
          const enqueuedAt = Date.now();
          await waitFor(async () => (await store.jobGet({ id: b!.id }))?.state === 'succeeded', {
            intervalMs: 20,
            what: "B's job to succeed (a fair claim serves it within one claim)",
          });
          await setup.stopWorkers();

          const bJob = (await store.jobGet({ id: b!.id }))!;
          const ranA = (await allJobs(store, { queue: QUEUE, state: 'succeeded' })).filter(
            (job) => job.key === 'A',
          );
          const between = ranA.filter(
            (job) => job.startedAt! > enqueuedAt && job.startedAt! < bJob.startedAt!,
          );
          assert.ok(
            ranA.length < BACKLOG,
            `A still had a backlog when B ran (${ranA.length} of A's jobs ran)`,
          );
          // What the worker already held of A when B's claim came back (running, claimed ahead, or
          // taken by that same claim before B in claim order) may still start first: at most A's
          // limit. Without fair claims B would wait for the whole backlog.
          assert.ok(
            between.length <= LIMITS.keyConcurrency!,
            `${between.length} of A's jobs started between B's enqueue (${enqueuedAt}) and B's start (${bJob.startedAt}): ${between
              .map((job) => `${job.id}@${job.startedAt}`)
              .join(' ')}`,
          );
          console.log(
            `${factory.name}: ${between.length} of A's jobs started between B's enqueue and its start, ${bJob.startedAt! - enqueuedAt} ms later`,
          );
        } finally {
          await setup.cleanup();
        }
      },
    );
  }
});
