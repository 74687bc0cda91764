import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import type { ClaimedJob } from '../../src/core/job.ts';
import type { JobOutcome, Store } from '../../src/store/contract.ts';
import { OutcomeRecorder } from '../../src/worker/outcome-recorder.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const WORKER = 'host:1:recorder';

for (const kind of testStores) {
  describe(`OutcomeRecorder (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let clock: ManualClock;
    let store: Store;
    before(async () => {
      factory = await kind.make('recorder');
      clock = new ManualClock();
      store = await factory.open({ clock });
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    const claimSix = async (): Promise<ClaimedJob[]> => {
      const base = {
        task: 'echo',
        queue: 'default',
        payload: '{}',
        priority: 0,
        runAt: clock.now(),
        maxAttempts: 3,
        timeoutMs: 0,
      };
      await store.jobEnqueueMany(
        Array.from({ length: 6 }, () => ({
          ...base,
          uniqueKey: null,
          idempotencyKey: null,
          callbackUrl: null,
        })),
      );
      return store.jobClaim({
        workerId: WORKER,
        queues: [{ name: 'default', limit: 6 }],
        tasks: ['echo'],
        leaseMs: 10_000,
      });
    };
    const lease = (job: ClaimedJob) => ({
      id: job.id,
      workerId: WORKER,
      attempt: job.attempts,
      fence: job.fence,
    });

    it('records every good outcome of a batch that also holds an invalid one, and rejects only that one', async () => {
      const jobs = await claimSix();
      assert.equal(jobs.length, 6);
      const recorder = new OutcomeRecorder(store);
      const outcomes: JobOutcome[] = jobs.map((job) => ({
        kind: 'succeeded',
        lease: lease(job),
        result: `"${job.id}"`,
      }));
      outcomes[3] = {
        kind: 'failed',
        lease: lease(jobs[3]!),
        error: { name: 'Error', message: 'x' },
        retryAt: NaN,
      };
      const settled = await Promise.allSettled(outcomes.map((outcome) => recorder.record(outcome)));
      await recorder.drain();
      assert.deepEqual(
        settled.map((s) => s.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
        settled.map((s) => (s.status === 'rejected' ? String(s.reason) : '')).join(' '),
      );
      const refusal = (settled[3] as PromiseRejectedResult).reason as OffloadError;
      assert.equal(refusal.code, ErrorCodes.INVALID_OPTION);
      assert.match(refusal.message, /retryAt/);
      for (const s of settled) if (s.status === 'fulfilled') assert.equal(s.value, true);
      const states = await Promise.all(
        jobs.map(async (job) => (await store.jobGet({ id: job.id }))?.state),
      );
      assert.deepEqual(states, [
        'succeeded',
        'succeeded',
        'succeeded',
        'running',
        'succeeded',
        'succeeded',
      ]);
    });

    it('still answers false for a lease that moved on when it writes outcomes one by one', async () => {
      const jobs = await claimSix();
      const recorder = new OutcomeRecorder(store);
      const outcomes: JobOutcome[] = jobs.map((job) => ({
        kind: 'succeeded',
        lease: lease(job),
        result: '1',
      }));
      outcomes[0] = { kind: 'snoozed', lease: lease(jobs[0]!), runAt: Infinity };
      outcomes[5] = {
        kind: 'succeeded',
        lease: { ...lease(jobs[5]!), workerId: 'host:2:other' },
        result: '1',
      };
      const settled = await Promise.allSettled(outcomes.map((outcome) => recorder.record(outcome)));
      assert.deepEqual(
        settled.map((s) => (s.status === 'fulfilled' ? s.value : 'rejected')),
        ['rejected', true, true, true, true, false],
      );
    });
  });
}
