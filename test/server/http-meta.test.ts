import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });

/** meta and tags over HTTP: enqueue and batch bodies, the job view, ?tag=, bulk by tag, 422s, OpenAPI. */
for (const kind of testStores) {
  describe(`HTTP API: job meta and tags (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let api: ApiHarness;
    before(async () => {
      factory = await kind.make('http-meta');
      api = await startApi([echo], { worker: false, store: await factory.open() });
    });
    after(async () => {
      await api?.close();
      await factory?.destroy();
    });

    test('POST /v1/jobs stores meta and tags; GET returns them; ?tag= filters the list', async () => {
      const posted = await api.call('POST', '/v1/jobs', {
        task: 'echo',
        payload: 1,
        meta: { requestId: 'req-9', user: { id: 3 } },
        tags: ['http', 'eu', 'http'],
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      assert.deepEqual(posted.body.meta, { requestId: 'req-9', user: { id: 3 } });
      assert.deepEqual(posted.body.tags, ['http', 'eu']);
      const plain = await api.call('POST', '/v1/jobs', { task: 'echo', payload: 2 });
      assert.deepEqual([plain.body.meta, plain.body.tags], [{}, []]);

      const got = await api.call('GET', `/v1/jobs/${posted.body.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.meta, posted.body.meta);
      assert.deepEqual(got.body.tags, ['http', 'eu']);

      const listed = await api.call('GET', '/v1/jobs?tag=eu');
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(
        listed.body.jobs.map((j: { id: string }) => j.id),
        [posted.body.id],
      );
      assert.deepEqual(listed.body.jobs[0].tags, ['http', 'eu']);
      const spaced = await api.call('POST', '/v1/jobs', { task: 'echo', tags: ['with space/ü'] });
      const encoded = await api.call('GET', `/v1/jobs?tag=${encodeURIComponent('with space/ü')}`);
      assert.deepEqual(
        encoded.body.jobs.map((j: { id: string }) => j.id),
        [spaced.body.id],
      );
      const none = await api.call('GET', '/v1/jobs?tag=nobody&state=queued');
      assert.deepEqual(none.body.jobs, []);
    });

    test('the batch endpoint takes meta and tags per job', async () => {
      const posted = await api.call('POST', '/v1/jobs/batch', {
        jobs: [
          { task: 'echo', payload: 1, tags: ['batch'], meta: { n: 1 } },
          { task: 'echo', payload: 2 },
          { task: 'echo', payload: 3, tags: ['batch', 'odd'] },
        ],
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      assert.deepEqual(
        posted.body.jobs.map((j: { tags: string[] }) => j.tags),
        [['batch'], [], ['batch', 'odd']],
      );
      assert.deepEqual(posted.body.jobs[0].meta, { n: 1 });
      const listed = await api.call('GET', '/v1/jobs?tag=batch');
      assert.deepEqual(
        listed.body.jobs.map((j: { id: string }) => j.id),
        [posted.body.jobs[2].id, posted.body.jobs[0].id],
      );
    });

    test('bad meta and tags answer 422 ERR_INVALID_META naming the field, and store nothing', async () => {
      const before = await api.queue.countJobs({});
      const cases: Array<[unknown, string, RegExp]> = [
        [{ task: 'echo', meta: [1] }, 'body.meta', /must be a JSON object, got an array/],
        [{ task: 'echo', meta: 'x' }, 'body.meta', /must be a JSON object/],
        [{ task: 'echo', meta: { big: 'x'.repeat(9000) } }, 'body.meta', /over the limit of 8192/],
        [{ task: 'echo', tags: 'vip' }, 'body.tags', /must be an array of strings/],
        [{ task: 'echo', tags: ['ok', 5] }, 'body.tags.1', /must be a string/],
        [{ task: 'echo', tags: ['x'.repeat(65)] }, 'body.tags.0', /1-64 characters/],
        [{ task: 'echo', tags: ['bell\u0007'] }, 'body.tags.0', /control characters/],
      ];
      for (const [body, field, message] of cases) {
        const answer = await api.call('POST', '/v1/jobs', body);
        assert.equal(answer.status, 422, JSON.stringify(answer.body));
        assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
        assert.equal(answer.body.code, 'ERR_INVALID_META');
        assert.match(answer.body.detail, message);
        assert.equal(answer.body.errors?.[0]?.field, field, JSON.stringify(answer.body));
      }
      const batch = await api.call('POST', '/v1/jobs/batch', {
        jobs: [
          { task: 'echo', tags: ['fine'] },
          { task: 'echo', tags: ['fine', ''] },
        ],
      });
      assert.equal(batch.status, 422, JSON.stringify(batch.body));
      assert.equal(batch.body.code, 'ERR_INVALID_META');
      assert.equal(batch.body.errors[0].field, 'body.jobs.1.tags.1');
      assert.deepEqual(await api.queue.countJobs({}), before, 'nothing was stored');

      for (const query of ['tag=', `tag=${'x'.repeat(65)}`, 'tag=a%07b']) {
        const answer = await api.call('GET', `/v1/jobs?${query}`);
        assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, 'ERR_INVALID_REQUEST');
        assert.equal(answer.body.errors[0].field, 'query.tag');
      }
    });

    test('POST /v1/jobs/bulk with a tag filter changes only the tagged jobs', async () => {
      const tagged = await api.call('POST', '/v1/jobs/batch', {
        jobs: Array.from({ length: 4 }, (_, i) => ({
          task: 'echo',
          payload: i,
          delay: 60_000,
          tags: ['bulk-me'],
        })),
      });
      const other = await api.call('POST', '/v1/jobs', { task: 'echo', delay: 60_000 });
      const posted = await api.call('POST', '/v1/jobs/bulk', {
        action: 'cancel',
        filter: { tag: 'bulk-me' },
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      assert.equal(posted.body.matched, 4);
      assert.deepEqual(posted.body.filter, { tag: 'bulk-me' });
      let state = posted.body;
      for (let i = 0; i < 500 && state.state === 'running'; i++) {
        await sleep(20);
        state = (await api.call('GET', posted.headers.get('location')!)).body;
      }
      assert.equal(state.state, 'done');
      assert.equal(state.done, 4);
      for (const job of tagged.body.jobs)
        assert.equal((await api.call('GET', `/v1/jobs/${job.id}`)).body.state, 'cancelled');
      assert.equal((await api.call('GET', `/v1/jobs/${other.body.id}`)).body.state, 'scheduled');
    });

    test('the OpenAPI document describes meta, tags and the tag filter', async () => {
      const doc = (await api.call('GET', '/v1/openapi.json')).body;
      const request = doc.components.schemas.EnqueueRequest.properties;
      assert.equal(request.meta.type, 'object');
      assert.equal(request.tags.type, 'array');
      assert.equal(request.tags.maxItems, 20);
      const job = doc.components.schemas.Job;
      assert.equal(job.properties.meta.type, 'object');
      assert.equal(job.properties.tags.type, 'array');
      assert.ok(job.required.includes('meta') && job.required.includes('tags'));
      const list = doc.paths['/v1/jobs'].get.parameters;
      assert.ok(list.some((p: { name: string }) => p.name === 'tag'));
      assert.ok(doc.components.schemas.BulkFilter.properties.tag);
    });
  });
}
