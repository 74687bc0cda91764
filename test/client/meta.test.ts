import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, ProblemError, type ApiJob } from '../../src/client/index.ts';
import type { toJobView } from '../../src/server/job-view.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

/** The client's job shape must keep up with what the server sends, meta and tags too (checked by the compiler). */
const _serverViewFitsClient = (view: ReturnType<typeof toJobView>): ApiJob => view;
void _serverViewFitsClient;

const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });

/** client.enqueue / enqueueMany with meta and tags, listJobs({ tag }), bulk by tag, and a 422, against a real server. */
describe('client: job meta and tags', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([echo], { worker: false });
  });
  after(async () => api?.close());

  const client = () => createClient({ url: api.url, token: api.token });

  test('enqueue and enqueueMany send meta and tags; getJob and listJobs({ tag }) read them', async () => {
    const c = client();
    const job = await c.enqueue('echo', 1, { meta: { from: 'client' }, tags: ['c', 'one'] });
    assert.deepEqual(job.meta, { from: 'client' });
    assert.deepEqual(job.tags, ['c', 'one']);
    const many = await c.enqueueMany([
      { task: 'echo', payload: 2, options: { tags: ['c'] } },
      { task: 'echo', payload: 3 },
    ]);
    assert.deepEqual(
      many.map((j) => j.tags),
      [['c'], []],
    );
    assert.deepEqual((await c.getJob(job.id)).meta, { from: 'client' });
    const page = await c.listJobs({ tag: 'c' });
    assert.deepEqual(
      page.jobs.map((j) => j.id),
      [many[0]!.id, job.id],
    );
    assert.deepEqual(
      (await c.listJobs({ tag: 'one' })).jobs.map((j) => j.id),
      [job.id],
    );
  });

  test('bulk takes a tag filter', async () => {
    const c = client();
    const tagged = await c.enqueueMany(
      Array.from({ length: 3 }, () => ({ task: 'echo', payload: 0, options: { tags: ['gone'] } })),
    );
    const other = await c.enqueue('echo', 0);
    const started = await c.bulk({ action: 'delete', filter: { tag: 'gone' } });
    const done = await c.waitForBulk(started.id);
    assert.equal(done.done, 3);
    for (const job of tagged)
      await assert.rejects(
        c.getJob(job.id),
        (e: unknown) => e instanceof ProblemError && e.status === 404,
      );
    assert.equal((await c.getJob(other.id)).state, 'queued');
  });

  test('bad meta is a ProblemError 422 ERR_INVALID_META naming the field', async () => {
    const c = client();
    const error = await c.enqueue('echo', 1, { meta: [1] as never }).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 422);
    assert.equal(error.code, 'ERR_INVALID_META');
    assert.equal(error.errors[0]?.field, 'body.meta');
  });
});
