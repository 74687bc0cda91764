import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClaimedJob } from '../../src/core/job.ts';
import type { QueueLimits } from '../../src/store/contract.ts';
import type { ContractKit } from './kit.ts';

const WORKER = 'host:1:flow';

/**
 * Flow control as every store must keep it: counted slots per queue and per key that come back
 * whatever ends a run, sliding rate windows, rotation over keys, strict order per key, holds from
 * `rateLimited`, and the two layers of limits.
 */
export function flowContract(t: ContractKit): void {
  const limit = (limits: QueueLimits | null, layer: 'declared' | 'runtime' = 'runtime') =>
    t.store().limitsSet({ queue: 'default', layer, limits });
  const enqueueKeyed = async (key: string | null, count: number, extra = {}) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++)
      ids.push(
        (await t.store().jobEnqueue(t.job({ key, payload: `{"i":${i}}`, ...extra }))).job.id,
      );
    return ids;
  };
  const byKey = (jobs: readonly ClaimedJob[]) => {
    const counts: Record<string, number> = {};
    for (const job of jobs) counts[job.key ?? ''] = (counts[job.key ?? ''] ?? 0) + 1;
    return counts;
  };
  const fail = (job: ClaimedJob, retryAt: number | null) =>
    t.store().jobRecordOutcomes([
      {
        kind: 'failed',
        lease: t.leaseOf(job, WORKER),
        error: { name: 'Error', message: 'no' },
        retryAt,
      },
    ]);

  describe('flow control', () => {
    it('keeps a key within its limit until a run ends, whatever ends it', async () => {
      await limit({ keyConcurrency: 2 });
      await enqueueKeyed('a', 5);
      const first = await t.claim(10, { workerId: WORKER });
      assert.deepEqual(byKey(first), { a: 2 });
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 0, 'the key is full');
      await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(first[0]!, WORKER))]);
      const second = await t.claim(10, { workerId: WORKER });
      assert.equal(second.length, 1, 'a success gives one slot back');
      await t.store().jobCancel({ id: first[1]!.id });
      const third = await t.claim(10, { workerId: WORKER });
      assert.equal(third.length, 1, 'a cancel gives its slot back');
      await fail(second[0]!, t.clock().now());
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 1, 'so does a retry');
      const state = await t.store().limitsGet({ queue: 'default' });
      assert.equal(state?.running, 2);
      assert.deepEqual(
        state?.keys.map((key) => [key.key, key.running, key.limit]),
        [['a', 2, 2]],
      );
    });

    it('counts jobs claimed ahead toward the limits, and claims none ahead under a rate', async () => {
      await limit({ keyConcurrency: 3 });
      await enqueueKeyed('a', 5);
      const claimed = await t.store().jobClaim({
        workerId: WORKER,
        queues: [{ name: 'default', limit: 5, start: 1 }],
        tasks: ['echo'],
        leaseMs: t.leaseMs,
      });
      assert.deepEqual(
        claimed.map((job) => job.state),
        ['running', 'claimed', 'claimed'],
      );
      assert.equal((await t.store().limitsGet({ queue: 'default' }))?.keys[0]?.running, 3);
      await limit({ keyRate: { limit: 10, per: 1000 } });
      const rated = await t.store().jobClaim({
        workerId: WORKER,
        queues: [{ name: 'default', limit: 5, start: 1 }],
        tasks: ['echo'],
        leaseMs: t.leaseMs,
      });
      assert.deepEqual(
        rated.map((job) => job.state),
        ['running'],
      );
    });

    it('gives the slots of a dead worker back when its leases are recovered', async () => {
      await limit({ keyConcurrency: 1, concurrency: 1 });
      await enqueueKeyed('a', 2);
      assert.equal((await t.claim(5, { workerId: WORKER })).length, 1);
      t.clock().advance(t.leaseMs + 1);
      const recovered = await t.store().jobRecoverExpired();
      assert.equal(recovered.requeued.length, 1);
      assert.equal((await t.claim(5, { workerId: WORKER })).length, 1);
      assert.equal((await t.store().limitsGet({ queue: 'default' }))?.running, 1);
    });

    it('holds the queue to its concurrency across keys and unkeyed jobs, and per-key overrides win', async () => {
      await limit({ concurrency: 5, keyConcurrency: 1, keyOverrides: { big: 3 } });
      await enqueueKeyed('big', 4);
      await enqueueKeyed('small', 4);
      await enqueueKeyed(null, 4);
      const jobs = await t.claim(20, { workerId: WORKER });
      assert.equal(jobs.length, 5);
      const counts = byKey(jobs);
      assert.ok((counts.big ?? 0) <= 3 && (counts.small ?? 0) <= 1, JSON.stringify(counts));
      assert.equal((await t.claim(20, { workerId: WORKER })).length, 0);
    });

    it('keeps claiming a key with many running when only the queue is limited', async () => {
      await limit({ concurrency: 20 });
      await enqueueKeyed('a', 12);
      assert.equal((await t.claim(8, { workerId: WORKER })).length, 8);
      assert.equal((await t.claim(8, { workerId: WORKER })).length, 4);
    });

    it('rotates over keys so a single job of another key is not stuck behind a backlog', async () => {
      await limit({ keyConcurrency: 100 });
      await enqueueKeyed('a', 30);
      await enqueueKeyed('b', 1);
      const first = await t.claim(5, { workerId: WORKER });
      const second = await t.claim(5, { workerId: WORKER });
      const keys = [...first, ...second].map((job) => job.key);
      assert.ok(keys.includes('b'), `b should start within two claims, got ${keys.join(',')}`);
    });

    it('counts starts in a sliding window per key and sets the next wake to the next token', async () => {
      await limit({ keyRate: { limit: 3, per: 1000 } });
      await enqueueKeyed('a', 5);
      await enqueueKeyed('b', 1);
      const first = await t.claim(10, { workerId: WORKER });
      assert.deepEqual(byKey(first), { a: 3, b: 1 });
      await t.store().jobRecordOutcomes(first.map((job) => t.succeed(t.leaseOf(job, WORKER))));
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 0, 'no token left for a');
      const wake = await t.store().jobNextRunAt({ queues: ['default'], tasks: ['echo'] });
      assert.equal(wake, t.clock().now() + 1000, 'an idle worker sleeps until the next token');
      const state = await t.store().limitsGet({ queue: 'default' });
      const a = state?.keys.find((key) => key.key === 'a');
      assert.deepEqual(a?.tokens, { left: 0, nextAt: t.clock().now() + 1000 });
      t.clock().advance(999);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 0, 'still inside the window');
      t.clock().advance(1);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 2);
    });

    it('wakes at the next token once a claim has used the last one', async () => {
      await limit({ rate: { limit: 2, per: 300 }, keyRate: { limit: 1, per: 200 } });
      await enqueueKeyed('a', 2);
      await enqueueKeyed('b', 2);
      const started = t.clock().now();
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 2);
      assert.equal(
        await t.store().jobNextRunAt({ queues: ['default'], tasks: ['echo'] }),
        started + 200,
        'the keys’ windows free first',
      );
    });

    it('rotates and holds keys with no other limit under fair order', async () => {
      await limit({ order: 'fair' });
      await enqueueKeyed('a', 20);
      await enqueueKeyed('b', 1);
      const keys = [
        ...(await t.claim(5, { workerId: WORKER })),
        ...(await t.claim(5, { workerId: WORKER })),
      ].map((job) => job.key);
      assert.ok(keys.includes('b'), keys.join(','));
    });

    it('limits the whole queue per window', async () => {
      await limit({ rate: { limit: 4, per: 500 } });
      await enqueueKeyed('a', 3);
      await enqueueKeyed(null, 3);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 4);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 0);
      const state = await t.store().limitsGet({ queue: 'default' });
      assert.deepEqual(state?.tokens, { left: 0, nextAt: t.clock().now() + 500 });
      t.clock().advance(500);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 2);
    });

    it('starts a key’s jobs one at a time in enqueue order under strict order, retries included', async () => {
      await limit({ order: 'strict' });
      const ids = await enqueueKeyed('a', 3, { priority: 0 });
      await t.store().jobEnqueue(t.job({ key: 'a', priority: 100 }));
      const [first, ...rest] = await t.claim(10, { workerId: WORKER });
      assert.equal(first?.id, ids[0], 'the oldest first, whatever the priorities');
      assert.equal(rest.length, 0);
      await fail(first!, t.clock().now() + 1000);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 0, 'the retry holds the key');
      t.clock().advance(1000);
      const [again] = await t.claim(10, { workerId: WORKER });
      assert.equal(again?.id, ids[0]);
      await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(again!, WORKER))]);
      const [next] = await t.claim(10, { workerId: WORKER });
      assert.equal(next?.id, ids[1]);
    });

    it('counts an ended run’s slot free for the worker’s next claims, before its outcome gives it back once', async () => {
      await limit({ keyConcurrency: 1, concurrency: 5 });
      await enqueueKeyed('a', 3);
      const claimWith = (ended: readonly ClaimedJob[], workerId = WORKER) =>
        t.store().jobClaim({
          workerId,
          queues: [{ name: 'default', limit: 5 }],
          tasks: ['echo'],
          leaseMs: t.leaseMs,
          ended: ended.map((job) => t.leaseOf(job, workerId)),
        });
      const [first] = await claimWith([]);
      assert.equal((await claimWith([])).length, 0, 'the key is full');
      assert.equal(
        (await claimWith([first!], 'host:9:other')).length,
        0,
        'another worker’s lease gives nothing back',
      );
      const stale = { ...first!, fence: first!.fence + 1 };
      assert.equal(
        (await claimWith([stale])).length,
        0,
        'a lease that moved on gives nothing back',
      );
      const [second] = await claimWith([first!]);
      assert.ok(second, 'the ended run’s slot counted free');
      assert.equal((await t.store().jobGet({ id: first!.id }))?.state, 'running');
      assert.equal(
        (await t.store().limitsGet({ queue: 'default' }))?.running,
        2,
        'the ended run stays counted until its outcome is written',
      );
      assert.equal((await claimWith([first!])).length, 0, 'an ended run frees one slot, once');
      await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(first!, WORKER))]);
      const state = await t.store().limitsGet({ queue: 'default' });
      assert.equal(state?.running, 1, 'the outcome finds no second slot to give back');
      assert.deepEqual(
        state?.keys.map((key) => [key.key, key.running]),
        [['a', 1]],
      );
      assert.equal((await claimWith([])).length, 0, 'the key is still full with its second run');
      await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(second!, WORKER))]);
      assert.equal((await claimWith([])).length, 1);
    });

    it('keeps an ended run’s slot under strict order until its outcome is written', async () => {
      await limit({ order: 'strict' });
      await enqueueKeyed('a', 2);
      const claimWith = (ended: readonly ClaimedJob[]) =>
        t.store().jobClaim({
          workerId: WORKER,
          queues: [{ name: 'default', limit: 5 }],
          tasks: ['echo'],
          leaseMs: t.leaseMs,
          ended: ended.map((job) => t.leaseOf(job, WORKER)),
        });
      const [first] = await claimWith([]);
      assert.equal((await claimWith([first!])).length, 0, 'a retry could still come first');
      await fail(first!, t.clock().now());
      const [again] = await claimWith([]);
      assert.equal(again?.id, first!.id, 'the retry came first');
    });

    it('keeps strict order for jobs that were waiting or running before the order became strict', async () => {
      await limit({ keyConcurrency: 5 });
      const ids = await enqueueKeyed('a', 3);
      const [first] = await t.claim(1, { workerId: WORKER });
      assert.equal(first?.id, ids[0]);
      await limit({ order: 'strict' });
      assert.equal(
        (await t.claim(10, { workerId: WORKER })).length,
        0,
        'the key’s oldest job runs',
      );
      await fail(first!, t.clock().now());
      const [again] = await t.claim(10, { workerId: WORKER });
      assert.equal(again?.id, ids[0], 'its retry comes first');
      await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(again!, WORKER))]);
      const [next] = await t.claim(10, { workerId: WORKER });
      assert.equal(next?.id, ids[1]);
      await limit(null);
      const rest = await t.claim(10, { workerId: WORKER });
      assert.deepEqual(
        rest.map((job) => job.id),
        [ids[2]],
        'without limits the plain claim takes what is left',
      );
    });

    it('puts a job retried by hand in its key’s strict order when the order began after it failed', async () => {
      const [old] = await enqueueKeyed('a', 1, { maxAttempts: 1 });
      const [claimed] = await t.claim(1, { workerId: WORKER });
      await fail(claimed!, null);
      assert.equal((await t.store().jobGet({ id: old! }))?.state, 'failed');
      const [newer] = await enqueueKeyed('a', 1);
      await limit({ order: 'strict' });
      await t.store().jobRetry({ id: old! });
      const [first] = await t.claim(10, { workerId: WORKER });
      assert.equal(first?.id, old, 'the older job first');
      await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(first!, WORKER))]);
      const [second] = await t.claim(10, { workerId: WORKER });
      assert.equal(second?.id, newer);
    });

    it('holds a key after rateLimited without spending an attempt, and other keys run', async () => {
      await limit({ keyConcurrency: 1 });
      await enqueueKeyed('a', 2);
      await enqueueKeyed('b', 2);
      const jobs = await t.claim(10, { workerId: WORKER });
      assert.deepEqual(byKey(jobs), { a: 1, b: 1 });
      const a = jobs.find((job) => job.key === 'a')!;
      const until = t.clock().now() + 5000;
      await t
        .store()
        .jobRecordOutcomes([{ kind: 'rateLimited', lease: t.leaseOf(a, WORKER), runAt: until }]);
      const read = await t.store().jobGet({ id: a.id });
      assert.deepEqual([read?.state, read?.attempts], ['scheduled', 0]);
      await t
        .store()
        .jobRecordOutcomes(
          jobs.filter((job) => job.key === 'b').map((job) => t.succeed(t.leaseOf(job, WORKER))),
        );
      const more = await t.claim(10, { workerId: WORKER });
      assert.deepEqual(byKey(more), { b: 1 }, 'a is held though its slot is free; b runs');
      const state = await t.store().limitsGet({ queue: 'default' });
      assert.equal(state?.keys.find((key) => key.key === 'a')?.heldUntil, until);
      t.clock().advance(5000);
      const after = await t.claim(10, { workerId: WORKER });
      assert.deepEqual(byKey(after), { a: 1 });
    });

    it('counts what already runs when a queue becomes limited, and stops counting when it is not', async () => {
      await enqueueKeyed('a', 3);
      await enqueueKeyed(null, 2);
      assert.equal((await t.claim(2, { workerId: WORKER })).length, 2);
      await limit({ concurrency: 3 });
      assert.equal((await t.store().limitsGet({ queue: 'default' }))?.running, 2);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 1);
      await limit(null);
      assert.equal(await t.store().limitsGet({ queue: 'default' }), undefined);
      assert.equal(
        (await t.claim(10, { workerId: WORKER })).length,
        2,
        'no limits: the plain claim',
      );
    });

    it('lets the runtime layer replace the declared one until it is cleared', async () => {
      await limit({ keyConcurrency: 1 }, 'declared');
      await limit({ keyConcurrency: 3 }, 'runtime');
      let state = await t.store().limitsGet({ queue: 'default' });
      assert.deepEqual(state?.limits, { keyConcurrency: 3 });
      assert.deepEqual(state?.declared, { keyConcurrency: 1 });
      await limit(null, 'runtime');
      state = await t.store().limitsGet({ queue: 'default' });
      assert.deepEqual([state?.limits, state?.runtime], [{ keyConcurrency: 1 }, null]);
      assert.deepEqual(
        (await t.store().limitsList()).map((s) => s.queue),
        ['default'],
      );
    });

    it('keeps unlimited queues on the plain claim, keys or not', async () => {
      await enqueueKeyed('a', 3);
      assert.equal((await t.claim(10, { workerId: WORKER })).length, 3);
      const job = (await t.store().jobEnqueue(t.job({ key: 'tenant-1' }))).job;
      assert.equal(job.key, 'tenant-1');
      assert.equal((await t.store().jobGet({ id: job.id }))?.key, 'tenant-1');
    });
  });
}
