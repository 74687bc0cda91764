import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import { MAX_META_BYTES, MAX_TAGS } from '../../src/core/job-meta.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });

/** meta and tags through the library: enqueue, enqueueMany, run, listJobs, bulk, and every refusal. */
for (const kind of testStores) {
  describe(`job meta and tags through the queue (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    before(async () => {
      factory = await kind.make('queue-meta');
      store = await factory.open();
      queue = createQueue({ store, tasks: [echo] });
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    const refusal = async (call: Promise<unknown>, code: string): Promise<OffloadError> => {
      const error = await call.then(
        () => assert.fail('expected a rejection'),
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      return error;
    };

    test('enqueue stores meta and tags, without duplicates, and getJob and listJobs return them', async () => {
      const job = await queue.enqueue(echo, 1, {
        meta: { requestId: 'r-1', nested: { ok: true } },
        tags: ['lib', 'vip', 'lib'],
      });
      assert.deepEqual(job.meta, { requestId: 'r-1', nested: { ok: true } });
      assert.deepEqual(job.tags, ['lib', 'vip']);
      const read = await queue.getJob(job.id);
      assert.deepEqual(read?.meta, job.meta);
      assert.deepEqual(read?.tags, ['lib', 'vip']);
      const plain = await queue.enqueue(echo, 2, { meta: {}, tags: [] });
      assert.deepEqual([plain.meta, plain.tags], [{}, []]);
      const listed = await queue.listJobs({ tag: 'vip' });
      assert.deepEqual(
        listed.jobs.map((j) => j.id),
        [job.id],
      );
      assert.equal((await queue.countJobs({ tag: 'lib' })).queued, 1);
    });

    test('enqueueMany and run carry meta and tags; the worker claims them', async () => {
      const made = await queue.enqueueMany([
        { task: echo, payload: 1, options: { tags: ['many'], meta: { i: 1 } } },
        { task: echo, payload: 2 },
        { task: 'echo', payload: 3, options: { tags: ['many', 'three'] } },
      ]);
      assert.deepEqual(
        made.map((j) => j.tags),
        [['many'], [], ['many', 'three']],
      );
      assert.deepEqual(made[0]!.meta, { i: 1 });
      assert.deepEqual(
        (await queue.listJobs({ tag: 'many' })).jobs.map((j) => j.id),
        [made[2]!.id, made[0]!.id],
      );
      const worker = createWorker({ store, tasks: [echo], pollInterval: 20, blockThreshold: 0 });
      await worker.start();
      try {
        assert.equal(await queue.run(echo, 'ran', { tags: ['ran'], meta: { via: 'run' } }), 'ran');
        const [ran] = (await queue.listJobs({ tag: 'ran' })).jobs;
        assert.equal(ran?.state, 'succeeded');
        assert.deepEqual(ran?.meta, { via: 'run' });
      } finally {
        await worker.stop();
      }
    });

    test('bulk cancels by tag', async () => {
      const tagged = await queue.enqueueMany(
        Array.from({ length: 5 }, (_, i) => ({
          task: echo,
          payload: i,
          options: { tags: ['to-cancel'], delay: 60_000 },
        })),
      );
      const other = await queue.enqueue(echo, 'x', { delay: 60_000 });
      const handle = await queue.bulk({ action: 'cancel', filter: { tag: 'to-cancel' } });
      const record = await handle.done;
      assert.equal(record.done, 5);
      assert.deepEqual(record.filter, { tag: 'to-cancel' });
      for (const job of tagged) assert.equal((await queue.getJob(job.id))?.state, 'cancelled');
      assert.equal((await queue.getJob(other.id))?.state, 'scheduled');
    });

    test('refuses bad meta and tags with ERR_INVALID_META naming the field, storing nothing', async () => {
      const before = await queue.countJobs({});
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      const cases: Array<[Record<string, unknown>, RegExp, string]> = [
        [{ meta: [1, 2] }, /`meta` must be a JSON object, got an array/, 'meta'],
        [{ meta: 'text' }, /`meta` must be a JSON object/, 'meta'],
        [{ meta: { at: 1n } }, /`meta` is not JSON-serialisable/, 'meta'],
        [{ meta: { f: () => 1 } }, /not JSON-serialisable/, 'meta'],
        [{ meta: cycle }, /not JSON-serialisable/, 'meta'],
        [{ meta: { big: 'x'.repeat(MAX_META_BYTES) } }, /over the limit of 8192/, 'meta'],
        [{ tags: 'vip' }, /`tags` must be an array of strings/, 'tags'],
        [{ tags: ['ok', 7] }, /`tags\[1\]` must be a string/, 'tags.1'],
        [{ tags: [''] }, /`tags\[0\]` must be 1-64 characters/, 'tags.0'],
        [{ tags: ['x'.repeat(65)] }, /1-64 characters, got 65/, 'tags.0'],
        [{ tags: ['a\nb'] }, /control characters/, 'tags.0'],
        [
          { tags: Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`) },
          /21 distinct tags, over the limit of 20/,
          'tags',
        ],
      ];
      for (const [options, message, field] of cases) {
        const error = await refusal(queue.enqueue(echo, 1, options), 'ERR_INVALID_META');
        assert.match(error.message, message);
        assert.equal(error.details.field, field);
      }
      const many = await refusal(
        queue.enqueueMany([
          { task: echo, payload: 1, options: { tags: ['fine'] } },
          { task: echo, payload: 2, options: { meta: [] as never } },
        ]),
        'ERR_INVALID_META',
      );
      assert.match(many.message, /^enqueueMany: item 1: /);
      assert.equal(many.details.index, 1);
      await refusal(queue.run(echo, 1, { tags: [1 as never] }), 'ERR_INVALID_META');
      assert.deepEqual(await queue.countJobs({}), before, 'nothing was stored');
      // Exactly at the limit is fine: 8192 bytes of JSON.
      const fits = await queue.enqueue(echo, 1, {
        meta: { k: 'x'.repeat(MAX_META_BYTES - '{"k":""}'.length) },
        tags: Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`),
      });
      assert.equal(fits.tags.length, MAX_TAGS);
      await queue.remove(fits.id);
    });

    test('refuses a bad tag filter with ERR_INVALID_OPTION', async () => {
      for (const tag of ['', 'x'.repeat(65), 'a\u0000b', 5]) {
        const error = await refusal(queue.listJobs({ tag: tag as never }), 'ERR_INVALID_OPTION');
        assert.match(error.message, /listJobs: option `tag`/);
      }
      await refusal(queue.countJobs({ tag: '' }), 'ERR_INVALID_OPTION');
    });
  });
}
