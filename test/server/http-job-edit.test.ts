import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { greet } from '../fixtures/api-tasks.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

/** PATCH and DELETE /v1/jobs/{id} on each store: changes, refusals as problem documents, the OpenAPI document. */
for (const kind of testStores) {
  describe(`HTTP API: change and remove jobs (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let api: ApiHarness;
    before(async () => {
      factory = await kind.make('http-job-edit');
      api = await startApi([greet], { worker: false, store: await factory.open() });
    });
    after(async () => {
      await api?.close();
      await factory?.destroy();
    });

    const enqueue = async (body: Record<string, unknown> = {}) => {
      const created = await api.call('POST', '/v1/jobs', {
        task: 'greet',
        payload: { name: 'ada' },
        ...body,
      });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      return created.body as { id: string; runAt: string };
    };
    /** Leases the job (a worker would), so it is running. */
    const claim = async (queue: string) =>
      api.store.jobClaim({
        workerId: 'host:1:http',
        queues: [{ name: queue, limit: 10 }],
        tasks: ['greet'],
        leaseMs: 30_000,
      });
    const isProblem = (
      answer: { status: number; headers: Headers; body: any },
      status: number,
      code: string,
    ) => {
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.match(answer.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(answer.body.code, code);
      assert.equal(answer.body.status, status);
    };

    test('PATCH changes runAt (ISO or epoch ms), delay, priority and payload, and answers the job', async () => {
      const job = await enqueue({ delay: '1h' });
      const runAt = new Date(Date.now() + 30_000).toISOString();
      const patched = await api.call('PATCH', `/v1/jobs/${job.id}`, {
        runAt,
        priority: 5,
        payload: { name: 'bob' },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.runAt, runAt);
      assert.equal(patched.body.priority, 5);
      assert.deepEqual(patched.body.payload, { name: 'bob' });
      assert.equal(patched.body.state, 'scheduled');
      const epoch = Date.now() - 1;
      const now = await api.call('PATCH', `/v1/jobs/${job.id}`, { runAt: epoch });
      assert.equal(now.body.state, 'queued');
      assert.equal(Date.parse(now.body.runAt), epoch);
      const delayed = await api.call('PATCH', `/v1/jobs/${job.id}`, { delay: '10m' });
      assert.ok(Date.parse(delayed.body.runAt) > Date.now() + 590_000);
      const read = await api.call('GET', `/v1/jobs/${job.id}`);
      assert.deepEqual(read.body.payload, { name: 'bob' });
      assert.equal(read.body.priority, 5);
    });

    test('PATCH with a payload that fails the task schema answers 422 naming the field; nothing changes', async () => {
      const job = await enqueue();
      const answer = await api.call('PATCH', `/v1/jobs/${job.id}`, {
        payload: { name: '' },
        priority: 3,
      });
      isProblem(answer, 422, 'ERR_INVALID_PAYLOAD');
      assert.equal(answer.body.errors[0].field, 'body.payload.name');
      const read = await api.call('GET', `/v1/jobs/${job.id}`);
      assert.deepEqual(read.body.payload, { name: 'ada' });
      assert.equal(read.body.priority, 0);
    });

    test('PATCH refuses a bad body with 422, naming the field', async () => {
      const job = await enqueue();
      const cases: Array<[unknown, string, RegExp]> = [
        [{}, 'body', /must change something/],
        [{ priority: 'high' }, 'body.priority', /./],
        [{ priority: 1_000_001 }, 'body.priority', /from -1000000 to 1000000/],
        [{ delay: 'soon' }, 'body.delay', /duration/],
        [{ runAt: 'yesterday' }, 'body.runAt', /ISO/],
        [{ prioritty: 1 }, 'body', /did you mean `priority`/],
        [{ queue: 'other' }, 'body', /unknown field `queue`/],
      ];
      for (const [body, field, message] of cases) {
        const answer = await api.call('PATCH', `/v1/jobs/${job.id}`, body);
        isProblem(answer, 422, 'ERR_INVALID_OPTION');
        assert.equal(answer.body.errors[0].field, field, JSON.stringify(answer.body));
        assert.match(answer.body.errors[0].message, message);
      }
    });

    test('PATCH and DELETE of a running job answer 409 ERR_JOB_STATE and change nothing', async () => {
      const job = await enqueue({ queue: 'http-running' });
      assert.equal((await claim('http-running')).length, 1);
      const patched = await api.call('PATCH', `/v1/jobs/${job.id}`, { priority: 9 });
      isProblem(patched, 409, 'ERR_JOB_STATE');
      assert.match(patched.body.detail, /is running; only scheduled or queued jobs can be updated/);
      const deleted = await api.call('DELETE', `/v1/jobs/${job.id}`);
      isProblem(deleted, 409, 'ERR_JOB_STATE');
      const read = await api.call('GET', `/v1/jobs/${job.id}`);
      assert.equal(read.body.state, 'running');
      assert.equal(read.body.priority, 0);
    });

    test('DELETE removes a waiting or ended job and answers it as it was; then 404', async () => {
      const waiting = await enqueue();
      const removed = await api.call('DELETE', `/v1/jobs/${waiting.id}`);
      assert.equal(removed.status, 200);
      assert.equal(removed.body.id, waiting.id);
      assert.equal(removed.body.state, 'queued');
      isProblem(await api.call('GET', `/v1/jobs/${waiting.id}`), 404, 'ERR_JOB_NOT_FOUND');
      isProblem(await api.call('DELETE', `/v1/jobs/${waiting.id}`), 404, 'ERR_JOB_NOT_FOUND');
      isProblem(
        await api.call('PATCH', `/v1/jobs/${waiting.id}`, { priority: 1 }),
        404,
        'ERR_JOB_NOT_FOUND',
      );
      const ended = await enqueue();
      await api.call('POST', `/v1/jobs/${ended.id}/cancel`);
      const gone = await api.call('DELETE', `/v1/jobs/${ended.id}`);
      assert.equal(gone.body.state, 'cancelled');
      const list = await api.call('GET', '/v1/jobs?limit=1000');
      assert.ok(!list.body.jobs.some((job: { id: string }) => job.id === ended.id));
    });

    test('a bad id answers 400; the routes need a jobs:write token', async () => {
      isProblem(await api.call('DELETE', '/v1/jobs/abc'), 400, 'ERR_INVALID_REQUEST');
      isProblem(await api.call('PATCH', '/v1/jobs/0', { priority: 1 }), 400, 'ERR_INVALID_REQUEST');
      const job = await enqueue();
      const anonymous = await api.call('DELETE', `/v1/jobs/${job.id}`, undefined, {
        authorization: '',
      });
      assert.equal(anonymous.status, 401);
      assert.equal((await api.call('GET', `/v1/jobs/${job.id}`)).status, 200);
    });

    test('the OpenAPI document describes PATCH and DELETE /v1/jobs/{id}', async () => {
      const doc = (await api.call('GET', '/v1/openapi.json')).body;
      const path = doc.paths['/v1/jobs/{id}'];
      assert.ok(path.patch, 'patch');
      assert.ok(path.delete, 'delete');
      assert.deepEqual(Object.keys(path.patch.responses).sort(), [
        '200',
        '404',
        '409',
        '413',
        '422',
      ]);
      assert.deepEqual(path.delete.security, [{ bearer: ['jobs:write'] }]);
      const body = path.patch.requestBody.content['application/json'].schema;
      const schema = body.$ref ? doc.components.schemas[body.$ref.split('/').pop()] : body;
      assert.deepEqual(Object.keys(schema.properties).sort(), [
        'delay',
        'payload',
        'priority',
        'runAt',
      ]);
    });
  });
}
