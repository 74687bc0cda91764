import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createServer } from '../../src/server/server.ts';
import { greet, steps } from '../fixtures/api-tasks.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

const laned = defineTask({ name: 'laned', queue: 'lane', run: async () => 'ran' });

const boom = defineTask({
  name: 'boom',
  attempts: 1,
  run: async () => {
    throw new Error('boom on purpose');
  },
});

describe('HTTP API on SQLite with a worker in the same process', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([greet, steps, boom, laned]);
  });
  after(() => api.close());

  test('POST /v1/jobs answers 202 with Location and Retry-After, and ?wait returns the result in one round trip', async () => {
    const created = await api.call('POST', '/v1/jobs', { task: 'greet', payload: { name: 'ada' } });
    assert.equal(created.status, 202);
    assert.equal(created.headers.get('location'), `/v1/jobs/${created.body.id}`);
    assert.equal(created.headers.get('retry-after'), '1');
    assert.match(created.body.state, /^(queued|running|succeeded)$/);
    const finished = await api.call('GET', `${created.headers.get('location')}?wait=10s`);
    assert.equal(finished.status, 200);
    assert.equal(finished.body.state, 'succeeded');
    assert.deepEqual(finished.body.result, { greeting: 'hello, ada' });
    assert.equal(finished.headers.get('retry-after'), null);
    assert.ok(Date.parse(finished.body.finishedAt) >= Date.parse(finished.body.createdAt));
  });

  test('a wait that runs out answers with the job as it stands and a Retry-After', async () => {
    const created = await api.call('POST', '/v1/jobs', {
      task: 'steps',
      payload: { steps: 20, delayMs: 100 },
    });
    const waited = await api.call('GET', `/v1/jobs/${created.body.id}?wait=200ms`);
    assert.equal(waited.status, 200);
    assert.match(waited.body.state, /^(queued|running)$/);
    assert.equal(waited.headers.get('retry-after'), '1');
    await api.call('POST', `/v1/jobs/${created.body.id}/cancel`);
  });

  test('GET /v1/jobs/{id}/events streams state, progress and end', async () => {
    const created = await api.call('POST', '/v1/jobs', {
      task: 'steps',
      payload: { steps: 3, delayMs: 30 },
    });
    const response = await fetch(`${api.url}/v1/jobs/${created.body.id}/events`, {
      headers: { authorization: `Bearer ${api.token}` },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /text\/event-stream/);
    const text = await response.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2]!),
    }));
    assert.equal(events[0]!.event, 'state');
    assert.equal(events.at(-1)!.event, 'end');
    assert.equal(events.at(-1)!.data.state, 'succeeded');
    assert.deepEqual(events.at(-1)!.data.result, { done: 3 });
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress.step);
    assert.ok(progress.length >= 1, `expected progress events, got ${text}`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
    );
  });

  test('a failed job shows its error; retry queues it again; cancel of a finished job is a 409', async () => {
    const created = await api.call('POST', '/v1/jobs', { task: 'boom', payload: {} });
    const failed = await api.call('GET', `/v1/jobs/${created.body.id}?wait=10s`);
    assert.equal(failed.body.state, 'failed');
    assert.equal(failed.body.error.message, 'boom on purpose');
    const cancel = await api.call('POST', `/v1/jobs/${created.body.id}/cancel`);
    assert.equal(cancel.status, 409);
    assert.equal(cancel.body.code, 'ERR_JOB_STATE');
    const retried = await api.call('POST', `/v1/jobs/${created.body.id}/retry`);
    assert.equal(retried.status, 200);
    assert.match(retried.body.state, /^(queued|running|failed)$/);
    assert.equal((await api.call('GET', `/v1/jobs/${created.body.id}?wait=10s`)).body.attempts, 1);
  });

  test('cancel stops a running job', async () => {
    const created = await api.call('POST', '/v1/jobs', {
      task: 'steps',
      payload: { steps: 100, delayMs: 50 },
    });
    const cancelled = await api.call('POST', `/v1/jobs/${created.body.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
  });

  test('the batch form enqueues all jobs or none', async () => {
    const ok = await api.call('POST', '/v1/jobs/batch', {
      jobs: [
        { task: 'greet', payload: { name: 'a' } },
        { task: 'greet', payload: { name: 'b' } },
      ],
    });
    assert.equal(ok.status, 202);
    assert.equal(ok.body.jobs.length, 2);
    const before = (await api.call('GET', '/v1/jobs?task=greet&limit=1000')).body.jobs.length;
    const bad = await api.call('POST', '/v1/jobs/batch', {
      jobs: [
        { task: 'greet', payload: { name: 'c' } },
        { task: 'greet', payload: { name: '' } },
      ],
    });
    assert.equal(bad.status, 422);
    assert.match(bad.body.detail, /item 1/);
    assert.equal(
      (await api.call('GET', '/v1/jobs?task=greet&limit=1000')).body.jobs.length,
      before,
    );
  });

  test('GET /v1/jobs filters and pages with a cursor', async () => {
    for (let i = 0; i < 5; i++)
      await api.call('POST', '/v1/jobs', {
        task: 'greet',
        payload: { name: `p${i}` },
        queue: 'paging',
        delay: '1h',
      });
    const first = await api.call('GET', '/v1/jobs?queue=paging&limit=3');
    assert.equal(first.body.jobs.length, 3);
    assert.ok(first.body.nextCursor);
    assert.ok(first.body.jobs.every((job: { state: string }) => job.state === 'scheduled'));
    const second = await api.call(
      'GET',
      `/v1/jobs?queue=paging&limit=3&cursor=${first.body.nextCursor}`,
    );
    assert.equal(second.body.jobs.length, 2);
    const ids = [...first.body.jobs, ...second.body.jobs].map((job: { id: string }) => job.id);
    assert.equal(new Set(ids).size, 5);
  });

  test('queues list counts, pause and resume', async () => {
    assert.equal((await api.call('POST', '/v1/queues/lane/pause')).body.paused, true);
    const created = await api.call('POST', '/v1/jobs', { task: 'laned', payload: {} });
    await sleep(300);
    assert.equal((await api.call('GET', `/v1/jobs/${created.body.id}`)).body.state, 'queued');
    const queues = await api.call('GET', '/v1/queues');
    const paused = queues.body.queues.find((q: { name: string }) => q.name === 'lane');
    assert.equal(paused.paused, true);
    assert.equal(paused.counts.queued, 1);
    await api.call('POST', '/v1/queues/lane/resume');
    assert.equal(
      (await api.call('GET', `/v1/jobs/${created.body.id}?wait=10s`)).body.state,
      'succeeded',
    );
  });

  test('GET /v1/tasks lists tasks with their payload JSON Schema and example', async () => {
    const { body } = await api.call('GET', '/v1/tasks');
    const task = body.tasks.find((t: { name: string }) => t.name === 'greet');
    assert.equal(task.payloadSchema.type, 'object');
    assert.deepEqual(task.payloadSchema.required, ['name']);
    assert.deepEqual(task.example, { name: 'ada' });
  });

  test('healthz, metrics and the OpenAPI document', async () => {
    const health = await fetch(`${api.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    const metrics = await api.call('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /offload_jobs\{queue="default",state="succeeded"\} [1-9]/);
    assert.match(metrics.body, /offload_job_run_seconds_bucket/);
    assert.match(
      metrics.body,
      /offload_jobs_finished_total\{queue="default",task="greet",state="succeeded"\} [1-9]/,
    );
    const doc = await fetch(`${api.url}/v1/openapi.json`).then((r) => r.json() as Promise<any>);
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(
      doc.paths['/v1/jobs'].post.requestBody.content['application/json'].schema.$ref,
      '#/components/schemas/EnqueueRequest',
    );
    assert.ok(doc.components.schemas.EnqueueRequest.properties.task);
    assert.ok(doc.components.schemas.Job.properties.state.enum.includes('succeeded'));
    assert.ok(
      doc.paths['/v1/jobs/{id}'].get.parameters.some((p: { name: string }) => p.name === 'wait'),
    );
    assert.deepEqual(doc.paths['/v1/jobs'].post.security, [{ bearer: ['jobs:write'] }]);
  });
});

describe('HTTP API refuses bad input with problem documents', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([greet], { worker: false, bodyLimit: 10_000 });
  });
  after(() => api.close());

  const cases: Array<
    [string, () => Promise<{ status: number; headers: Headers; body: any }>, number, RegExp]
  > = [
    [
      'an unknown field, with a did-you-mean',
      () => api.call('POST', '/v1/jobs', { task: 'greet', payloda: {} }),
      400,
      /did you mean `payload`/,
    ],
    [
      'a payload failing the task schema',
      () => api.call('POST', '/v1/jobs', { task: 'greet', payload: { name: 42 } }),
      422,
      /name/,
    ],
    [
      'an unknown task',
      () => api.call('POST', '/v1/jobs', { task: 'nope', payload: {} }),
      422,
      /no task named "nope"/,
    ],
    ['malformed JSON', () => api.call('POST', '/v1/jobs', '{"task": '), 400, /not valid JSON/],
    [
      'a non-JSON content type',
      () => api.call('POST', '/v1/jobs', 'task=greet', { 'content-type': 'text/plain' }),
      415,
      /application\/json/,
    ],
    [
      'a body over the limit',
      () => api.call('POST', '/v1/jobs', { task: 'greet', payload: { name: 'x'.repeat(20_000) } }),
      413,
      /larger than/,
    ],
    [
      'a bad delay',
      () => api.call('POST', '/v1/jobs', { task: 'greet', payload: { name: 'a' }, delay: 'soon' }),
      400,
      /duration/,
    ],
    [
      'a bad callbackUrl',
      () =>
        api.call('POST', '/v1/jobs', {
          task: 'greet',
          payload: { name: 'a' },
          callbackUrl: 'ftp://x',
        }),
      400,
      /http/,
    ],
    ['a malformed job id', () => api.call('GET', '/v1/jobs/abc'), 400, /job id/],
    ['an unknown job', () => api.call('GET', '/v1/jobs/999999'), 404, /no job has id 999999/],
    ['a bad wait', () => api.call('GET', '/v1/jobs/1?wait=forever'), 400, /duration/],
    ['a bad state filter', () => api.call('GET', '/v1/jobs?state=done'), 400, /state/],
    [
      'an unknown route',
      () => api.call('GET', '/v1/nothing'),
      404,
      /no endpoint GET \/v1\/nothing/,
    ],
    ['an unknown query parameter', () => api.call('GET', '/v1/jobs?colour=red'), 400, /colour/],
    [
      'no token',
      () => api.call('GET', '/v1/jobs', undefined, { authorization: '' }),
      401,
      /needs a token/,
    ],
    [
      'a wrong token',
      () => api.call('GET', '/v1/jobs', undefined, { authorization: 'Bearer off_nope' }),
      401,
      /unknown or revoked/,
    ],
    [
      'a malformed Authorization header',
      () => api.call('GET', '/v1/jobs', undefined, { authorization: 'Basic abc' }),
      401,
      /Bearer/,
    ],
  ];
  for (const [name, send, status, detail] of cases) {
    test(`${name} → ${status}`, async () => {
      const response = await send();
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(response.headers.get('content-type')!, /application\/problem\+json/);
      assert.equal(response.body.status, status);
      assert.match(response.body.detail, detail);
      assert.ok(
        !JSON.stringify(response.body).includes('    at '),
        'no stack trace reaches the client',
      );
    });
  }

  test('nothing was written by the refused requests', async () => {
    assert.deepEqual(
      Object.values(await api.queue.countJobs()).reduce((a, b) => a + b, 0),
      0,
    );
  });
});

describe('HTTP API auth', () => {
  test('a token without the needed scope gets 403, one with it gets through', async () => {
    const api = await startApi([greet], {
      worker: false,
      authenticate: async (token) =>
        token === 'reader' ? { id: 'r', name: 'reader', scopes: ['jobs:read'] } : undefined,
    });
    try {
      const denied = await api.call(
        'POST',
        '/v1/jobs',
        { task: 'greet', payload: { name: 'a' } },
        { authorization: 'Bearer reader' },
      );
      assert.equal(denied.status, 403);
      assert.match(denied.body.detail, /lacks the `jobs:write` scope/);
      assert.equal(
        (await api.call('GET', '/v1/jobs', undefined, { authorization: 'Bearer reader' })).status,
        200,
      );
      assert.equal(
        (
          await api.call('POST', '/v1/queues/q/pause', undefined, {
            authorization: 'Bearer reader',
          })
        ).status,
        403,
      );
      assert.equal(
        (await api.call('POST', '/v1/jobs', { task: 'greet', payload: { name: 'a' } })).status,
        202,
        'the session token is always accepted',
      );
    } finally {
      await api.close();
    }
  });

  test('the rate limit answers 429 with Retry-After once a token spends its budget', async () => {
    const api = await startApi([greet], { worker: false, rateLimit: { max: 3, windowMs: 60_000 } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await api.call('GET', '/v1/queues')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const limited = await api.call('GET', '/v1/queues');
      assert.equal(limited.body.code, 'ERR_RATE_LIMITED');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    } finally {
      await api.close();
    }
  });

  test('auth cannot be switched off on a non-loopback address', async () => {
    const { createSqliteStore } = await import('../../src/store/sqlite/sqlite-store.ts');
    const store = createSqliteStore({ path: ':memory:' });
    try {
      assert.throws(
        () => createServer({ store, host: '0.0.0.0', authenticate: null }),
        /refusing to serve 0\.0\.0\.0 without authentication/,
      );
    } finally {
      await store.close();
    }
  });
});

describe('HTTP API from other web origins (CORS)', () => {
  test('an allowed origin gets the preflight and the headers it needs; others get none', async () => {
    const api = await startApi([greet], { worker: false, corsOrigins: ['http://app.test'] });
    try {
      const preflight = await fetch(`${api.url}/v1/jobs`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://app.test',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,idempotency-key',
        },
      });
      assert.ok(preflight.status === 204 || preflight.status === 200);
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.test');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
      const created = await api.call(
        'POST',
        '/v1/jobs',
        { task: 'greet', payload: { name: 'x' } },
        { origin: 'http://app.test' },
      );
      assert.equal(created.headers.get('access-control-allow-origin'), 'http://app.test');
      assert.match(created.headers.get('access-control-expose-headers') ?? '', /location/);
      assert.equal(
        created.headers.get('access-control-allow-credentials'),
        null,
        'cookies never cross origins',
      );
      const other = await api.call('GET', '/v1/queues', undefined, { origin: 'http://evil.test' });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    } finally {
      await api.close();
    }
  });

  test('a malformed origin is refused at start', async () => {
    const { createSqliteStore } = await import('../../src/store/sqlite/sqlite-store.ts');
    const store = createSqliteStore({ path: ':memory:' });
    try {
      assert.throws(
        () => createServer({ store, corsOrigins: ['app.test/path'] }),
        /corsOrigins.*must be an origin/,
      );
    } finally {
      await store.close();
    }
  });
});
