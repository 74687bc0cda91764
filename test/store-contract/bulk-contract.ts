import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import type { EnqueueParams, JobEvent } from '../../src/store/contract.ts';
import type { ContractKit } from './kit.ts';

/** Bulk actions by filter, in chunks with their progress in the store, and the dead-letter view. */
export function bulkContract(t: ContractKit): void {
  /** Enqueues `n` jobs and fails each for good with `error`; returns their ids. */
  const failed = async (
    n: number,
    error: { message: string; code?: string },
    overrides: Partial<EnqueueParams> = {},
  ): Promise<string[]> => {
    const store = t.store();
    const task = overrides.task ?? 'echo';
    const queue = overrides.queue ?? 'default';
    const made = await store.jobEnqueueMany(
      Array.from({ length: n }, () => t.job({ maxAttempts: 1, ...overrides })),
    );
    const ids = new Set(made.map((r) => r.job.id));
    const claimed = (await t.claim(n + 100, { queue, tasks: [task] })).filter((j) => ids.has(j.id));
    assert.equal(claimed.length, n);
    await store.jobRecordOutcomes(
      claimed.map((j) => ({
        kind: 'failed' as const,
        lease: t.leaseOf(j),
        error: { name: 'Error', ...error },
        retryAt: null,
      })),
    );
    return [...ids];
  };

  const runAll = async (id: string, limit?: number) => {
    for (let i = 0; i < 10_000; i++) {
      const record = await t.store().jobBulkStep({ id, owner: 'me', leaseMs: 10_000, limit });
      assert.ok(record);
      if (record.state !== 'running') return record;
    }
    throw new Error('the bulk action never ended');
  };

  const isCode = (code: string) => (e: unknown) => e instanceof OffloadError && e.code === code;

  describe('bulk actions', () => {
    it('retries failed jobs chunk by chunk, progress readable from another connection', async () => {
      const store = t.store();
      const ids = await failed(25, { message: 'boom', code: 'E_BOOM' });
      const [ok] = await store.jobEnqueueMany([t.job()]);
      const [running] = await t.claim(1);
      await store.jobRecordOutcomes([t.succeed(t.leaseOf(running!))]);
      assert.equal(ok!.job.id, running!.id);
      const enqueued: JobEvent[] = [];
      store.on('job:enqueued', (event) => enqueued.push(event));

      const filter = { state: 'failed' as const };
      assert.equal(await store.jobBulkCount({ action: 'retry', filter }), 25);
      const created = await store.jobBulkCreate({ action: 'retry', filter });
      assert.equal(created.state, 'running');
      assert.equal(created.matched, 25);
      assert.equal(created.done, 0);
      const first = await store.jobBulkStep({
        id: created.id,
        owner: 'me',
        leaseMs: 10_000,
        limit: 10,
      });
      assert.equal(first?.done, 10);
      assert.equal(first?.state, 'running');
      const other = await t.open();
      assert.equal((await other.jobBulkGet({ id: created.id }))?.done, 10);
      assert.equal((await other.jobCount({})).failed, 15);

      const end = await runAll(created.id, 10);
      assert.equal(end.state, 'done');
      assert.equal(end.done, 25);
      assert.equal(end.skipped, 0);
      assert.ok(end.finishedAt !== null);
      const counts = await store.jobCount({});
      assert.equal(counts.queued, 25);
      assert.equal(counts.succeeded, 1);
      assert.equal(counts.failed, 0);
      for (const id of ids) {
        const job = await store.jobGet({ id });
        assert.equal(job?.state, 'queued');
        assert.equal(job?.attempts, 0, 'a fresh attempt budget');
        assert.equal(job?.finishedAt, null);
      }
      assert.deepEqual(enqueued.map((e) => e.id).sort(), [...ids].sort());
    });

    it('gives retried jobs of a queue limited since they failed the flow key an enqueue would', async () => {
      const store = t.store();
      const ids = await failed(3, { message: 'boom' });
      await store.limitsSet({ queue: 'default', layer: 'runtime', limits: { concurrency: 10 } });
      const { id } = await store.jobBulkCreate({ action: 'retry', filter: { queue: 'default' } });
      await runAll(id);
      const claimed = await t.claim(10);
      assert.deepEqual(claimed.map((j) => j.id).sort(), [...ids].sort());
    });

    it('a retry by hand gives the same flow key: the job is claimed from its queue limited since', async () => {
      const store = t.store();
      const [id] = await failed(1, { message: 'boom' });
      await store.limitsSet({ queue: 'default', layer: 'runtime', limits: { concurrency: 10 } });
      await store.jobRetry({ id: id! });
      assert.deepEqual(
        (await t.claim(10)).map((j) => j.id),
        [id],
      );
    });

    it('skips a retry whose unique key another unfinished job holds', async () => {
      const store = t.store();
      const [a] = await failed(1, { message: 'boom' }, { uniqueKey: 'report-7' });
      const [b] = await failed(1, { message: 'boom' }, { uniqueKey: 'report-8' });
      const [c] = await failed(1, { message: 'boom' }, { uniqueKey: 'report-8' });
      const held = await store.jobEnqueue(t.job({ uniqueKey: 'report-7' }));
      const { id } = await store.jobBulkCreate({ action: 'retry', filter: { state: 'failed' } });
      const end = await runAll(id);
      assert.equal(end.done, 1);
      assert.equal(end.skipped, 2);
      assert.equal((await store.jobGet({ id: a! }))?.state, 'failed');
      const states = [
        (await store.jobGet({ id: b! }))?.state,
        (await store.jobGet({ id: c! }))?.state,
      ];
      assert.deepEqual(states.sort(), ['failed', 'queued']);
      assert.equal((await store.jobGet({ id: held.job.id }))?.state, 'queued');
    });

    it('cancels only jobs that have not ended, running ones losing their lease', async () => {
      const store = t.store();
      const clock = t.clock();
      const [done] = await failed(1, { message: 'boom' });
      const queued = await store.jobEnqueue(t.job());
      const scheduled = await store.jobEnqueue(t.job({ runAt: clock.now() + 60_000 }));
      const runningJob = await store.jobEnqueue(t.job({ priority: 10 }));
      const [claimed] = await t.claim(1);
      assert.equal(claimed?.id, runningJob.job.id);
      const cancelled: string[] = [];
      store.on('job:cancelled', (e) => cancelled.push(e.id));
      const { id, matched } = await store.jobBulkCreate({
        action: 'cancel',
        filter: { queue: 'default' },
      });
      assert.equal(matched, 3);
      const end = await runAll(id);
      assert.equal(end.done, 3);
      for (const job of [queued, scheduled, runningJob])
        assert.equal((await store.jobGet({ id: job.job.id }))?.state, 'cancelled');
      assert.equal((await store.jobGet({ id: done! }))?.state, 'failed');
      assert.deepEqual(
        cancelled.sort(),
        [queued, scheduled, runningJob].map((j) => j.job.id).sort(),
      );
      const gone = await store.jobRenewLeases({ leases: [t.leaseOf(claimed!)], leaseMs: 1000 });
      assert.deepEqual(gone, [claimed!.id]);
    });

    it('deletes only jobs that ended or have not started', async () => {
      const store = t.store();
      const [gone1] = await failed(1, { message: 'boom' });
      const gone2 = await store.jobEnqueue(t.job());
      const running = await store.jobEnqueue(t.job({ priority: 10 }));
      const [claimed] = await t.claim(1);
      assert.equal(claimed?.id, running.job.id);
      const { id, matched } = await store.jobBulkCreate({
        action: 'delete',
        filter: { task: 'echo' },
      });
      assert.equal(matched, 2);
      const end = await runAll(id);
      assert.equal(end.done, 2);
      assert.equal(await store.jobGet({ id: gone1! }), undefined);
      assert.equal(await store.jobGet({ id: gone2.job.id }), undefined);
      assert.equal((await store.jobGet({ id: running.job.id }))?.state, 'running');
    });

    it('deletes the newest job of the store too, announcing each removal', async () => {
      const store = t.store();
      const [ended] = await failed(1, { message: 'boom' });
      const newest = await store.jobEnqueue(t.job({ runAt: t.clock().now() + 60_000 }));
      const removed: JobEvent[] = [];
      store.on('job:removed', (e) => removed.push(e));
      const { id } = await store.jobBulkCreate({ action: 'delete', filter: { task: 'echo' } });
      assert.equal((await runAll(id)).done, 2);
      assert.equal(await store.jobGet({ id: ended! }), undefined);
      assert.equal(await store.jobGet({ id: newest.job.id }), undefined);
      assert.equal((await store.jobList({})).jobs.length, 0);
      assert.deepEqual(
        removed.map((e) => [e.id, e.state]).sort(),
        [
          [ended!, 'failed'],
          [newest.job.id, 'scheduled'],
        ].sort(),
      );
      const next = await store.jobEnqueue(t.job());
      assert.ok(Number(next.job.id) > Number(newest.job.id), 'no id handed out twice');
    });

    it('filters by task, error code, error message and age, and takes no job made after it began', async () => {
      const store = t.store();
      const clock = t.clock();
      const old = await failed(2, { message: 'timed out', code: 'ERR_TASK_TIMEOUT' });
      clock.advance(60_000);
      const cutoff = clock.now();
      const recent = await failed(2, { message: 'timed out', code: 'ERR_TASK_TIMEOUT' });
      const plain = await failed(2, { message: 'no such user' });
      await failed(1, { message: 'boom', code: 'ERR_TASK_TIMEOUT' }, { task: 'other' });
      const count = (filter: object) =>
        store.jobBulkCount({ action: 'retry', filter: { state: 'failed', ...filter } });
      assert.equal(await count({ errorCode: 'ERR_TASK_TIMEOUT' }), 5);
      assert.equal(await count({ errorCode: 'ERR_TASK_TIMEOUT', task: 'echo' }), 4);
      assert.equal(await count({ errorCode: null }), 2);
      assert.equal(await count({ errorMessage: 'no such user' }), 2);
      assert.equal(await count({ task: 'echo', createdBefore: cutoff }), 2);

      const { id } = await store.jobBulkCreate({
        action: 'retry',
        filter: { task: 'echo', errorCode: 'ERR_TASK_TIMEOUT' },
      });
      const later = await failed(1, { message: 'timed out', code: 'ERR_TASK_TIMEOUT' });
      const end = await runAll(id);
      assert.equal(end.done, 4);
      for (const jobId of [...old, ...recent])
        assert.equal((await store.jobGet({ id: jobId }))?.state, 'queued');
      for (const jobId of [...plain, ...later])
        assert.equal((await store.jobGet({ id: jobId }))?.state, 'failed');
    });

    it('lets one owner at a time run an action, another one after its lease ran out', async () => {
      const store = t.store();
      await failed(3, { message: 'boom' });
      const { id } = await store.jobBulkCreate({ action: 'retry', filter: { state: 'failed' } });
      const step = (owner: string) => store.jobBulkStep({ id, owner, leaseMs: 5_000, limit: 1 });
      assert.equal((await step('a'))?.done, 1);
      assert.equal(await step('b'), null);
      assert.equal((await store.jobBulkGet({ id }))?.done, 1);
      assert.deepEqual(
        (await store.jobBulkList({ state: 'running' })).map((r) => r.id),
        [id],
      );
      t.clock().advance(5_001);
      assert.equal((await step('b'))?.done, 2);
      assert.equal(await step('a'), null);
    });

    it('stops an interrupted action, and refuses unknown ids', async () => {
      const store = t.store();
      await failed(2, { message: 'boom' });
      const { id } = await store.jobBulkCreate({ action: 'retry', filter: { state: 'failed' } });
      assert.equal(await store.jobBulkInterrupt({ id, error: 'the server stopped' }), true);
      assert.equal(await store.jobBulkInterrupt({ id, error: 'again' }), false);
      const after = await store.jobBulkStep({ id, owner: 'me', leaseMs: 1000 });
      assert.equal(after?.state, 'interrupted');
      assert.equal(after?.error, 'the server stopped');
      assert.equal(after?.done, 0);
      assert.equal((await store.jobCount({})).failed, 2);
      assert.equal(await store.jobBulkGet({ id: '999999' }), undefined);
      assert.equal(await store.jobBulkGet({ id: 'nope' }), undefined);
      await assert.rejects(
        store.jobBulkStep({ id: '999999', owner: 'me', leaseMs: 1000 }),
        isCode('ERR_BULK_NOT_FOUND'),
      );
    });
  });

  describe('dead letters', () => {
    it('groups jobs failed for good by task and error, with counts and first and last seen', async () => {
      const store = t.store();
      const clock = t.clock();
      const firstAt = clock.now();
      await failed(3, { message: 'timed out after 5 s', code: 'ERR_TASK_TIMEOUT' });
      clock.advance(1000);
      await failed(1, { message: 'timed out after 9 s', code: 'ERR_TASK_TIMEOUT' });
      const lastTimeout = clock.now();
      await failed(2, { message: 'no such user' });
      await failed(1, { message: 'disk full' });
      await failed(1, { message: 'no such user' }, { task: 'mail', queue: 'mail' });
      await store.jobEnqueue(t.job());

      const groups = await store.jobDeadLetters({});
      assert.deepEqual(
        groups.map((g) => [g.task, g.errorCode, g.errorMessage, g.count]),
        [
          ['echo', 'ERR_TASK_TIMEOUT', 'timed out after 9 s', 4],
          ['echo', null, 'no such user', 2],
          ['mail', null, 'no such user', 1],
          ['echo', null, 'disk full', 1],
        ],
      );
      assert.equal(groups[0]!.firstSeen, firstAt);
      assert.equal(groups[0]!.lastSeen, lastTimeout);
      assert.deepEqual(
        (await store.jobDeadLetters({ task: 'mail' })).map((g) => g.count),
        [1],
      );
      assert.deepEqual(await store.jobDeadLetters({ queue: 'nowhere' }), []);
      assert.equal((await store.jobDeadLetters({ limit: 2 })).length, 2);
    });

    it('redrives one group by its filter', async () => {
      const store = t.store();
      await failed(3, { message: 'timed out', code: 'ERR_TASK_TIMEOUT' });
      await failed(2, { message: 'no such user' });
      const [userGroup] = (await store.jobDeadLetters({})).filter((g) => g.errorCode === null);
      assert.ok(userGroup);
      const { id } = await store.jobBulkCreate({ action: 'retry', filter: userGroup.filter });
      assert.equal((await runAll(id)).done, 2);
      assert.deepEqual(
        (await store.jobDeadLetters({})).map((g) => [g.errorCode, g.count]),
        [['ERR_TASK_TIMEOUT', 3]],
      );
    });
  });
}
