import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import type { ContractKit } from './kit.ts';

const isConflict = (e: unknown) =>
  e instanceof OffloadError &&
  e.code === 'ERR_IDEMPOTENCY_CONFLICT' &&
  /idempotency key "req-1"/.test(e.message);

/** Idempotency keys: the same request again returns the job made with the key, in any state. */
export function idempotencyContract(t: ContractKit): void {
  describe('idempotency keys', () => {
    it('returns the job made with the key, in every state, until retention deletes it', async () => {
      const store = t.store();
      const first = await store.jobEnqueue(
        t.job({ idempotencyKey: 'req-1', payload: '{"a":1,"b":[1,2]}' }),
      );
      assert.equal(first.created, true);
      assert.equal(first.job.idempotencyKey, 'req-1');
      const replay = async () =>
        store.jobEnqueue(t.job({ idempotencyKey: 'req-1', payload: '{"b":[1,2],"a":1}' }));
      const queued = await replay();
      assert.deepEqual(
        [queued.created, queued.job.id, queued.job.state],
        [false, first.job.id, 'queued'],
      );
      const [running] = await t.claim();
      assert.equal((await replay()).job.state, 'running');
      await store.jobRecordOutcomes([t.succeed(t.leaseOf(running!), '{"done":true}')]);
      const succeeded = await replay();
      assert.deepEqual(
        [succeeded.created, succeeded.job.id, succeeded.job.state],
        [false, first.job.id, 'succeeded'],
      );
      assert.deepEqual(succeeded.job.result, { done: true });
      assert.equal((await store.jobCount({})).queued, 0, 'no second job was added');
      t.clock().advance(10_000);
      await store.jobEnqueue(t.job()); // retention keeps the newest job of the store
      assert.equal(await store.jobDeleteFinished({ before: t.clock().now() }), 1);
      const fresh = await replay();
      assert.equal(fresh.created, true, 'a deleted job frees its key');
      assert.equal(fresh.job.state, 'queued');
    });

    it('replays failed and cancelled jobs too', async () => {
      const store = t.store();
      const { job } = await store.jobEnqueue(t.job({ idempotencyKey: 'req-c' }));
      await store.jobCancel({ id: job.id });
      const again = await store.jobEnqueue(t.job({ idempotencyKey: 'req-c' }));
      assert.deepEqual(
        [again.created, again.job.id, again.job.state],
        [false, job.id, 'cancelled'],
      );
      await store.jobEnqueue(t.job({ idempotencyKey: 'req-f', maxAttempts: 1 }));
      const [claimed] = await t.claim();
      await store.jobRecordOutcomes([
        {
          kind: 'failed',
          lease: t.leaseOf(claimed!),
          error: { name: 'E', message: 'x' },
          retryAt: null,
        },
      ]);
      assert.equal(
        (await store.jobEnqueue(t.job({ idempotencyKey: 'req-f' }))).job.state,
        'failed',
      );
    });

    it('refuses the key with another task or another payload', async () => {
      const store = t.store();
      await store.jobEnqueue(t.job({ idempotencyKey: 'req-1' }));
      await assert.rejects(
        store.jobEnqueue(t.job({ idempotencyKey: 'req-1', payload: '{"n":2}' })),
        isConflict,
      );
      await assert.rejects(
        store.jobEnqueue(t.job({ idempotencyKey: 'req-1', task: 'other' })),
        isConflict,
      );
      assert.equal((await store.jobCount({})).queued, 1);
    });

    it('replays within one bulk enqueue, and a conflict rolls the bulk back', async () => {
      const store = t.store();
      const results = await store.jobEnqueueMany([
        t.job({ idempotencyKey: 'k1' }),
        t.job({ idempotencyKey: 'k1' }),
        t.job(),
      ]);
      assert.deepEqual(
        results.map((r) => r.created),
        [true, false, true],
      );
      assert.equal(results[1]!.job.id, results[0]!.job.id);
      await assert.rejects(
        store.jobEnqueueMany([
          t.job({ idempotencyKey: 'k2' }),
          t.job({ idempotencyKey: 'k1', payload: '{"n":9}' }),
        ]),
        (e: unknown) => e instanceof OffloadError && e.code === 'ERR_IDEMPOTENCY_CONFLICT',
      );
      assert.equal((await store.jobCount({})).queued, 2, 'the bulk with a conflict added nothing');
    });

    it('gives one job to enqueues racing with one key on separate connections', async () => {
      const stores = [t.store(), await t.open(), await t.open()];
      const results = await Promise.all(
        stores.flatMap((s) => [1, 2].map(() => s.jobEnqueue(t.job({ idempotencyKey: 'race' })))),
      );
      assert.equal(new Set(results.map((r) => r.job.id)).size, 1);
      assert.equal(results.filter((r) => r.created).length, 1);
    });
  });
}
