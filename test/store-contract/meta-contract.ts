import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractKit } from './kit.ts';

/** Job meta and tags: stored with the job, read back everywhere, and a filter by tag. */
export function metaContract(t: ContractKit): void {
  const tagged = (tags: string[], meta: Record<string, unknown> | null = null, extra = {}) =>
    t.job({ tags, meta: meta === null ? null : JSON.stringify(meta), ...extra });

  const listIds = async (filter: Parameters<ReturnType<ContractKit['store']>['jobList']>[0]) => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await t.store().jobList({ ...filter, cursor, limit: filter.limit ?? 1000 });
      ids.push(...page.jobs.map((job) => job.id));
      cursor = page.nextCursor;
    } while (cursor);
    return ids;
  };

  describe('job meta and tags', () => {
    it('round-trips meta and tags through enqueue, get, claim, list and outcome', async () => {
      const store = t.store();
      const meta = { traceparent: '00-abc-def-01', tenant: { id: 7 }, ü: ['x', null] };
      const { job } = await store.jobEnqueue(tagged(['billing', 'eu'], meta));
      assert.deepEqual(job.meta, meta);
      assert.deepEqual(job.tags, ['billing', 'eu']);
      const plain = (await store.jobEnqueue(t.job())).job;
      assert.deepEqual(plain.meta, {});
      assert.deepEqual(plain.tags, []);

      const read = await store.jobGet({ id: job.id });
      assert.deepEqual(read?.meta, meta);
      assert.deepEqual(read?.tags, ['billing', 'eu']);
      assert.deepEqual((await store.jobGet({ id: plain.id }))?.meta, {});
      assert.deepEqual((await store.jobGet({ id: plain.id }))?.tags, []);

      const claimed = await t.claim(10);
      const mine = claimed.find((c) => c.id === job.id);
      assert.deepEqual(mine?.meta, meta, 'a worker sees the meta');
      assert.deepEqual(mine?.tags, ['billing', 'eu']);
      assert.deepEqual(claimed.find((c) => c.id === plain.id)?.tags, []);
      await store.jobRecordOutcomes([t.succeed(t.leaseOf(mine!))]);
      const ended = await store.jobGet({ id: job.id });
      assert.equal(ended?.state, 'succeeded');
      assert.deepEqual(ended?.meta, meta);
      const listed = (await store.jobList({ tag: 'eu' })).jobs;
      assert.deepEqual(
        listed.map((j) => [j.id, j.tags, j.meta]),
        [[job.id, ['billing', 'eu'], meta]],
      );
    });

    it('stores the tags and meta of each job of a batch, tagged or not, in every insert path', async () => {
      const store = t.store();
      // 300 jobs: more than one insert chunk; shared settings and mixed settings; a unique key.
      const batch = Array.from({ length: 300 }, (_, i) =>
        i % 3 === 0 ? tagged(['third'], { i }) : i % 3 === 1 ? t.job() : t.job({ priority: i }),
      );
      const made = await store.jobEnqueueMany(batch);
      const same = await store.jobEnqueueMany(
        Array.from({ length: 5 }, () => tagged(['same'], { shared: true })),
      );
      const keyed = await store.jobEnqueueMany([
        tagged(['keyed'], { k: 1 }, { uniqueKey: 'u-1' }),
        t.job({ uniqueKey: 'u-2' }),
      ]);
      const expectThird = made.filter((_, i) => i % 3 === 0).map((r) => r.job.id);
      assert.deepEqual((await listIds({ tag: 'third' })).sort(), [...expectThird].sort());
      assert.deepEqual((await store.jobGet({ id: expectThird[4]! }))?.meta, { i: 12 });
      assert.deepEqual((await store.jobGet({ id: made[1]!.job.id }))?.tags, []);
      assert.deepEqual(made[3]!.job.meta, { i: 3 }, 'the returned job carries its meta');
      assert.deepEqual((await listIds({ tag: 'same' })).sort(), same.map((r) => r.job.id).sort());
      assert.deepEqual(await listIds({ tag: 'keyed' }), [keyed[0]!.job.id]);
      assert.deepEqual((await store.jobGet({ id: keyed[0]!.job.id }))?.meta, { k: 1 });
      assert.deepEqual((await store.jobGet({ id: keyed[1]!.job.id }))?.tags, []);
      assert.deepEqual(await listIds({ tag: 'nobody' }), []);
    });

    it('keeps tags with characters array literals and JSON escape, in single and batch inserts', async () => {
      const store = t.store();
      const odd = ['a,b', 'q"uote', '{brace}', 'back\\slash', 'NULL', ' spaced ', 'ü→✓', "it's"];
      const one = (await store.jobEnqueue(tagged(odd, { 'k"': 'v\\' }))).job;
      const [many] = await store.jobEnqueueMany([tagged(odd), t.job({ priority: 1 })]);
      for (const id of [one.id, many!.job.id])
        assert.deepEqual((await store.jobGet({ id }))?.tags, odd);
      assert.deepEqual((await store.jobGet({ id: one.id }))?.meta, { 'k"': 'v\\' });
      for (const tag of odd)
        assert.deepEqual((await listIds({ tag })).sort(), [one.id, many!.job.id].sort(), tag);
    });

    it('filters listings and counts by tag, with the other filters and cursor paging', async () => {
      const store = t.store();
      const a = await store.jobEnqueueMany(Array.from({ length: 7 }, () => tagged(['red', 'big'])));
      await store.jobEnqueueMany(Array.from({ length: 4 }, () => tagged(['blue'])));
      const other = await store.jobEnqueue(tagged(['red'], null, { queue: 'other' }));
      await store.jobEnqueueMany(Array.from({ length: 5 }, () => t.job()));

      const paged = await listIds({ tag: 'red', limit: 3 });
      const expected = [...a.map((r) => r.job.id), other.job.id].reverse();
      assert.deepEqual(paged, expected, 'newest first across pages');
      assert.deepEqual(await listIds({ tag: 'red', queue: 'other' }), [other.job.id]);
      assert.deepEqual(await listIds({ tag: 'big', queue: 'other' }), []);
      const counts = await store.jobCount({ tag: 'red' });
      assert.equal(counts.queued, 8);
      assert.equal((await store.jobCount({ tag: 'blue' })).queued, 4);
      const [first] = await t.claim(1);
      assert.equal(first!.id, a[0]!.job.id);
      const red = await store.jobCount({ tag: 'red', state: 'running' });
      assert.equal(red.running, 1);
      assert.deepEqual(await listIds({ tag: 'red', state: 'running' }), [first!.id]);
    });

    it('takes a bulk action by tag only on the jobs carrying it', async () => {
      const store = t.store();
      const red = await store.jobEnqueueMany(Array.from({ length: 6 }, () => tagged(['red'])));
      const plain = await store.jobEnqueueMany(Array.from({ length: 4 }, () => t.job()));
      const filter = { tag: 'red' };
      assert.equal(await store.jobBulkCount({ action: 'cancel', filter }), 6);
      const created = await store.jobBulkCreate({ action: 'cancel', filter });
      assert.equal(created.matched, 6);
      assert.deepEqual(created.filter, filter);
      let record = created;
      while (record.state === 'running')
        record = (await store.jobBulkStep({
          id: created.id,
          owner: 'me',
          leaseMs: 10_000,
          limit: 4,
        }))!;
      assert.equal(record.state, 'done');
      assert.equal(record.done, 6);
      for (const { job } of red)
        assert.equal((await store.jobGet({ id: job.id }))?.state, 'cancelled');
      for (const { job } of plain)
        assert.equal((await store.jobGet({ id: job.id }))?.state, 'queued');
      assert.deepEqual((await store.jobBulkGet({ id: created.id }))?.filter, filter);

      const retried = await store.jobBulkCreate({ action: 'retry', filter });
      let step = retried;
      while (step.state === 'running')
        step = (await store.jobBulkStep({ id: retried.id, owner: 'me', leaseMs: 10_000 }))!;
      assert.equal(step.done, 6);
      const back = await store.jobGet({ id: red[0]!.job.id });
      assert.equal(back?.state, 'queued');
      assert.deepEqual(back?.tags, ['red'], 'a retried job keeps its tags');
    });

    it('forgets the tags of removed, emptied and pruned jobs', async () => {
      const store = t.store();
      const [old, mid, newest] = await store.jobEnqueueMany([
        tagged(['gone']),
        tagged(['gone']),
        tagged(['gone', 'last']),
      ]);
      await store.jobRemove({ id: mid!.job.id });
      await store.jobRemove({ id: newest!.job.id });
      assert.deepEqual(await listIds({ tag: 'gone' }), [old!.job.id]);
      assert.deepEqual(await listIds({ tag: 'last' }), [], 'the emptied newest job has no tags');
      await store.jobCancel({ id: old!.job.id });
      t.clock().advance(1000);
      await store.jobEnqueue(t.job());
      assert.ok((await store.jobDeleteFinished({ before: t.clock().now() })) >= 1);
      assert.deepEqual(await listIds({ tag: 'gone' }), []);
      const again = await store.jobEnqueue(tagged(['gone']));
      assert.deepEqual(await listIds({ tag: 'gone' }), [again.job.id]);
    });
  });
}
