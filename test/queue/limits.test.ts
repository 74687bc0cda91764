import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { EnqueueParams, Store } from '../../src/store/contract.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

/** queue.setLimits, getLimits and listLimits over a real store of each kind. */
for (const kind of testStores) {
  describe(`queue limits (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    before(async () => {
      factory = await kind.make('queue-limits');
      store = await factory.open();
      queue = createQueue({ store });
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    const job = (queueName: string, key: string | null): EnqueueParams => ({
      task: 'report',
      queue: queueName,
      payload: '{}',
      priority: 0,
      runAt: Date.now() - 1,
      maxAttempts: 3,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
      key,
    });

    /** The error a call rejects with, which must be an OffloadError. */
    const refusal = async (call: Promise<unknown>): Promise<OffloadError> => {
      const error = await call.then(
        () => assert.fail('expected a rejection'),
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
      return error;
    };

    test('setLimits stores the runtime layer normalised (durations in ms) and reads back', async () => {
      const state = await queue.setLimits('emails', {
        concurrency: 5,
        keyConcurrency: 2,
        keyOverrides: { acme: 4 },
        rate: { limit: 50, per: '1s' },
        keyRate: { limit: 10, per: '1m' },
        order: 'strict',
      });
      const limits = {
        concurrency: 5,
        keyConcurrency: 2,
        keyOverrides: { acme: 4 },
        rate: { limit: 50, per: 1000 },
        keyRate: { limit: 10, per: 60_000 },
        order: 'strict',
      };
      assert.deepEqual(state?.limits, limits);
      assert.deepEqual(state?.runtime, limits);
      assert.equal(state?.declared, null);
      const read = await queue.getLimits('emails');
      assert.deepEqual(read?.limits, limits);
      assert.equal(read?.running, 0);
      assert.deepEqual(read?.tokens, { left: 50, nextAt: null });
      assert.equal(read?.heldUntil, null);
      assert.deepEqual(
        (await queue.listLimits()).map((each) => each.queue),
        ['emails'],
      );
    });

    test('the runtime layer replaces the declared one whole; null clears it and the declared one applies again', async () => {
      await store.limitsSet({ queue: 'reports', layer: 'declared', limits: { concurrency: 3 } });
      const set = await queue.setLimits('reports', { rate: { limit: 5, per: 60_000 } });
      assert.deepEqual(set?.limits, { rate: { limit: 5, per: 60_000 } });
      assert.deepEqual(set?.declared, { concurrency: 3 });
      const cleared = await queue.setLimits('reports', null);
      assert.deepEqual(cleared?.limits, { concurrency: 3 });
      assert.equal(cleared?.runtime, null);
      assert.deepEqual((await queue.getLimits('reports'))?.limits, { concurrency: 3 });
    });

    test("order 'fair' alone is a limit: keys rotate and can be held", async () => {
      const state = await queue.setLimits('rotating', { order: 'fair' });
      assert.deepEqual(state?.limits, { order: 'fair' });
    });

    test('clearing the only layer leaves the queue without flow control', async () => {
      await queue.setLimits('brief', { concurrency: 1 });
      assert.equal(await queue.setLimits('brief', null), undefined);
      assert.equal(await queue.getLimits('brief'), undefined);
      assert.ok(!(await queue.listLimits()).some((each) => each.queue === 'brief'));
    });

    test('bad limits are refused with ERR_INVALID_OPTION naming the field, and nothing is stored', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ concurrency: 0 }, 'concurrency', /`concurrency` must be a whole number from 1 to/],
        [{ concurency: 2 }, '', /unknown field `concurency`/],
        [{ rate: { limit: 5000, per: '1ms' } }, 'rate.per', /`rate.per` must be/],
        [
          { rate: { limit: 20000, per: '1s' } },
          'rate.limit',
          /`rate.limit` must be a whole number from 1 to 10000: the store keeps the time of every start/,
        ],
        [{ keyOverrides: { acme: 1.5 } }, 'keyOverrides.acme', /`keyOverrides.acme`/],
        [{ order: 'loose' }, 'order', /`order` must be 'fair' or 'strict'/],
        ['fast', 'undefined', /limits must be an object/],
      ];
      for (const [limits, field, message] of cases) {
        const error = await refusal(queue.setLimits('refused', limits as never));
        assert.equal(error.code, ErrorCodes.INVALID_OPTION, JSON.stringify(limits));
        assert.match(error.message, message);
        assert.equal(String(error.details.option), field, JSON.stringify(limits));
      }
      assert.equal(await queue.getLimits('refused'), undefined);
      const badName = await refusal(queue.setLimits('no spaces', { concurrency: 1 }));
      assert.equal(badName.code, ErrorCodes.INVALID_OPTION);
      assert.match(badName.message, /setLimits: queue "no spaces" must be 1-200 characters/);
      assert.equal((await refusal(queue.getLimits(''))).code, ErrorCodes.INVALID_OPTION);
    });

    test('getLimits shows what runs per key, the tokens left and what is held back', async () => {
      await queue.setLimits('tenants', {
        concurrency: 2,
        keyConcurrency: 1,
        rate: { limit: 10, per: '1m' },
      });
      for (const key of ['acme', 'acme', 'globex']) await store.jobEnqueue(job('tenants', key));
      const claimed = await store.jobClaim({
        workerId: 'w',
        queues: [{ name: 'tenants', limit: 10 }],
        tasks: ['report'],
        leaseMs: 60_000,
      });
      assert.equal(claimed.length, 2);
      const state = (await queue.getLimits('tenants'))!;
      assert.equal(state.running, 2);
      assert.equal(state.tokens?.left, 8);
      assert.equal(state.heldBack, 1);
      const keys = Object.fromEntries(state.keys.map((each) => [each.key, each]));
      assert.deepEqual(
        { running: keys.acme?.running, limit: keys.acme?.limit },
        { running: 1, limit: 1 },
      );
      assert.deepEqual(
        { running: keys.globex?.running, limit: keys.globex?.limit },
        { running: 1, limit: 1 },
      );
    });
  });
}
