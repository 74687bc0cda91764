import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Job } from '../../src/core/job.ts';
import type { Store } from '../../src/store/contract.ts';
import type { ContractKit } from './kit.ts';

const HOOK = 'https://example.test/hooks/offload?x=1';

/** Callback URLs, and the delivery job made with every final state change of a job that has one. */
export function webhooksContract(t: ContractKit): void {
  const deliveriesOf = async (store: Store) =>
    (await store.jobList({ task: 'offload.webhook', limit: 1000 })).jobs;

  const assertDelivery = async (ended: Job | undefined) => {
    assert.ok(ended?.webhookJobId, `job ${ended?.id} (${ended?.state}) has a delivery job`);
    const delivery = await t.store().jobGet({ id: ended.webhookJobId });
    assert.ok(delivery);
    assert.equal(delivery.task, 'offload.webhook');
    assert.equal(delivery.queue, 'offload.webhooks');
    assert.equal(delivery.state, 'queued');
    assert.equal(delivery.maxAttempts, 8);
    assert.deepEqual(delivery.payload, { jobId: ended.id });
    assert.equal(delivery.callbackUrl, null, 'a delivery job has no callback of its own');
    return delivery;
  };

  describe('callback URLs and webhook delivery jobs', () => {
    it('stores the callback URL, one by one and in bulk', async () => {
      const store = t.store();
      const { job: one } = await store.jobEnqueue(t.job({ callbackUrl: HOOK }));
      assert.equal(one.callbackUrl, HOOK);
      assert.equal(one.webhookJobId, null);
      const many = await store.jobEnqueueMany([
        t.job({ callbackUrl: HOOK }),
        t.job(),
        t.job({ callbackUrl: `${HOOK}&n=3` }),
      ]);
      assert.deepEqual(
        many.map((r) => r.job.callbackUrl),
        [HOOK, null, `${HOOK}&n=3`],
      );
      const read = await Promise.all(
        [one, ...many.map((r) => r.job)].map((j) => store.jobGet({ id: j.id })),
      );
      assert.deepEqual(
        read.map((j) => j?.callbackUrl),
        [HOOK, HOOK, null, `${HOOK}&n=3`],
      );
    });

    it('makes a delivery job when a job with a callback succeeds, and announces it', async () => {
      const store = t.store();
      const heard: string[] = [];
      store.on('job:enqueued', (e) => heard.push(`${e.task}:${e.id}`));
      await store.jobEnqueue(t.job({ callbackUrl: HOOK }));
      await store.jobEnqueue(t.job());
      const claimed = await t.claim();
      assert.equal(claimed.length, 2);
      assert.deepEqual(await store.jobRecordOutcomes(claimed.map((j) => t.succeed(t.leaseOf(j)))), [
        true,
        true,
      ]);
      const [hooked, plain] = await Promise.all(claimed.map((j) => store.jobGet({ id: j.id })));
      const delivery = await assertDelivery(hooked);
      assert.equal(plain?.webhookJobId, null);
      assert.equal(
        (await deliveriesOf(store)).length,
        1,
        'no delivery for a job without a callback',
      );
      assert.ok(
        heard.includes(`offload.webhook:${delivery.id}`),
        'job:enqueued announced the delivery job',
      );
      const [claimedDelivery] = await t.claim(10, {
        queue: 'offload.webhooks',
        tasks: ['offload.webhook'],
      });
      assert.equal(claimedDelivery?.id, delivery.id, 'workers can claim the delivery job');
    });

    it('makes one on a final failure, and none on a failure that will be retried', async () => {
      const store = t.store();
      await store.jobEnqueue(t.job({ callbackUrl: HOOK, maxAttempts: 2 }));
      const [first] = await t.claim();
      const error = { name: 'Error', message: 'boom' };
      await store.jobRecordOutcomes([
        { kind: 'failed', lease: t.leaseOf(first!), error, retryAt: t.clock().now() },
      ]);
      assert.equal((await store.jobGet({ id: first!.id }))?.webhookJobId, null);
      assert.equal((await deliveriesOf(store)).length, 0);
      const [second] = await t.claim();
      await store.jobRecordOutcomes([
        { kind: 'failed', lease: t.leaseOf(second!), error, retryAt: null },
      ]);
      await assertDelivery(await store.jobGet({ id: first!.id }));
      assert.equal((await deliveriesOf(store)).length, 1);
    });

    it('makes none for snoozed, released or refused outcomes', async () => {
      const store = t.store();
      await store.jobEnqueue(t.job({ callbackUrl: HOOK }));
      const [a] = await t.claim();
      await store.jobRecordOutcomes([
        { kind: 'snoozed', lease: t.leaseOf(a!), runAt: t.clock().now() },
      ]);
      const [b] = await t.claim();
      await store.jobRecordOutcomes([{ kind: 'released', lease: t.leaseOf(b!) }]);
      const [c] = await t.claim();
      assert.deepEqual(
        await store.jobRecordOutcomes([t.succeed({ ...t.leaseOf(c!), workerId: 'host:9:stale' })]),
        [false],
      );
      assert.equal((await deliveriesOf(store)).length, 0);
    });

    it('makes one when a waiting or a running job is cancelled', async () => {
      const store = t.store();
      const { job: waiting } = await store.jobEnqueue(
        t.job({ callbackUrl: HOOK, runAt: t.clock().now() + 60_000 }),
      );
      const cancelledWaiting = await store.jobCancel({ id: waiting.id });
      assert.equal(cancelledWaiting.state, 'cancelled');
      const delivery = await assertDelivery(cancelledWaiting);
      assert.equal((await store.jobGet({ id: waiting.id }))?.webhookJobId, delivery.id);
      await store.jobEnqueue(t.job({ callbackUrl: HOOK }));
      const [running] = await t.claim();
      await assertDelivery(await store.jobCancel({ id: running!.id }));
      assert.equal((await deliveriesOf(store)).length, 2);
    });

    it('makes one when lease recovery gives up, and none when it requeues', async () => {
      const store = t.store();
      await store.jobEnqueue(t.job({ callbackUrl: HOOK, maxAttempts: 2 }));
      const [first] = await t.claim();
      t.clock().advance(t.leaseMs + 1);
      assert.deepEqual((await store.jobRecoverExpired()).requeued, [first!.id]);
      assert.equal((await deliveriesOf(store)).length, 0);
      await t.claim();
      t.clock().advance(t.leaseMs + 1);
      assert.deepEqual((await store.jobRecoverExpired()).failed, [first!.id]);
      const failed = await store.jobGet({ id: first!.id });
      assert.equal(failed?.state, 'failed');
      await assertDelivery(failed);
    });

    it('makes a new delivery when a job retried by hand ends again', async () => {
      const store = t.store();
      await store.jobEnqueue(t.job({ callbackUrl: HOOK, maxAttempts: 1 }));
      const [first] = await t.claim();
      await store.jobRecordOutcomes([
        {
          kind: 'failed',
          lease: t.leaseOf(first!),
          error: { name: 'E', message: 'x' },
          retryAt: null,
        },
      ]);
      const firstDelivery = (await store.jobGet({ id: first!.id }))?.webhookJobId;
      await store.jobRetry({ id: first!.id });
      const [again] = await t.claim();
      await store.jobRecordOutcomes([t.succeed(t.leaseOf(again!))]);
      const ended = await store.jobGet({ id: first!.id });
      const second = await assertDelivery(ended);
      assert.notEqual(second.id, firstDelivery);
      assert.equal((await deliveriesOf(store)).length, 2);
    });
  });
}
