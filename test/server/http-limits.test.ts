import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../../src/auth/tokens.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

/** GET, PUT and DELETE /v1/queues/{name}/limits, limits in GET /v1/queues and /metrics, on each store. */
for (const kind of testStores) {
  describe(`HTTP API: queue limits (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let api: ApiHarness;
    before(async () => {
      factory = await kind.make('http-limits');
      api = await startApi([], { worker: false, store: await factory.open() });
    });
    after(async () => {
      await api?.close();
      await factory?.destroy();
    });

    test('PUT sets the runtime limits and answers them (durations in ms); GET reads them back', async () => {
      const put = await api.call('PUT', '/v1/queues/emails/limits', {
        concurrency: 5,
        keyConcurrency: 2,
        keyOverrides: { acme: 4 },
        rate: { limit: 50, per: '1s' },
        keyRate: { limit: 10, per: 60_000 },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const limits = {
        concurrency: 5,
        keyConcurrency: 2,
        keyOverrides: { acme: 4 },
        rate: { limit: 50, per: 1000 },
        keyRate: { limit: 10, per: 60_000 },
      };
      assert.deepEqual(put.body, {
        queue: 'emails',
        limits,
        declared: null,
        runtime: limits,
        running: 0,
        tokens: { left: 50, nextAt: null },
        heldUntil: null,
        heldBack: 0,
        keys: [],
      });
      const got = await api.call('GET', '/v1/queues/emails/limits');
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, put.body);
    });

    test('GET /v1/queues lists a limited queue with its limits, even before it holds jobs', async () => {
      await api.store.jobEnqueue({
        task: 'report',
        queue: 'plain',
        payload: '{}',
        priority: 0,
        runAt: Date.now(),
        maxAttempts: 1,
        timeoutMs: 0,
        uniqueKey: null,
        idempotencyKey: null,
        callbackUrl: null,
      });
      const listed = await api.call('GET', '/v1/queues');
      assert.equal(listed.status, 200);
      const byName = Object.fromEntries(
        listed.body.queues.map((q: { name: string }) => [q.name, q]),
      );
      assert.equal(byName.plain.limits, null);
      assert.equal(byName.emails.limits.limits.concurrency, 5);
      assert.equal(byName.emails.counts.queued, 0);
      assert.equal(byName.emails.paused, false);
    });

    test('bad limits answer 422 naming the field, and nothing is stored', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ concurrency: 0 }, 'body.concurrency', /must be a whole number from 1 to/],
        [{ concurency: 2 }, 'body', /unknown field `concurency` \(did you mean `concurrency`\?\)/],
        [{ rate: { limit: 5000, per: '1ms' } }, 'body.rate.per', /from 10 ms to 7 days/],
        [
          { rate: { limit: 20000, per: 1000 } },
          'body.rate.limit',
          /a higher rate needs a shorter window/,
        ],
        [
          { rate: { limit: 5, per: '1s', burst: 2 } },
          'body.rate',
          /unknown field `burst`; allowed: limit, per/,
        ],
        [[1, 2], 'body', /object/],
      ];
      for (const [body, field, message] of cases) {
        const answer = await api.call('PUT', '/v1/queues/refused/limits', body);
        assert.equal(answer.status, 422, JSON.stringify(body));
        assert.match(answer.headers.get('content-type')!, /application\/problem\+json/);
        assert.equal(answer.body.code, 'ERR_INVALID_OPTION');
        assert.equal(answer.body.errors[0].field, field, JSON.stringify(answer.body));
        assert.match(answer.body.errors[0].message, message);
      }
      const missing = await api.call('GET', '/v1/queues/refused/limits');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'ERR_LIMITS_NOT_FOUND');
      const badName = await api.call('PUT', '/v1/queues/no%20spaces/limits', { concurrency: 1 });
      assert.equal(badName.status, 400);
      assert.equal(badName.body.errors[0].field, 'params.name');
    });

    test('DELETE clears the runtime layer: the declared limits apply again, or none', async () => {
      await api.store.limitsSet({
        queue: 'reports',
        layer: 'declared',
        limits: { concurrency: 3 },
      });
      await api.call('PUT', '/v1/queues/reports/limits', { concurrency: 9 });
      const cleared = await api.call('DELETE', '/v1/queues/reports/limits');
      assert.equal(cleared.status, 204);
      const now = await api.call('GET', '/v1/queues/reports/limits');
      assert.deepEqual(
        { limits: now.body.limits, declared: now.body.declared, runtime: now.body.runtime },
        { limits: { concurrency: 3 }, declared: { concurrency: 3 }, runtime: null },
      );
      await api.call('PUT', '/v1/queues/brief/limits', { concurrency: 1 });
      assert.equal((await api.call('DELETE', '/v1/queues/brief/limits')).status, 204);
      assert.equal((await api.call('GET', '/v1/queues/brief/limits')).status, 404);
      assert.equal((await api.call('DELETE', '/v1/queues/brief/limits')).status, 204);
    });

    test('live state shows running per key, tokens and held-back jobs, in the API and in /metrics', async () => {
      await api.call('PUT', '/v1/queues/tenants/limits', {
        concurrency: 2,
        keyConcurrency: 1,
        rate: { limit: 2, per: '1h' },
      });
      for (const key of ['acme', 'acme', 'globex', 'initech']) {
        await api.store.jobEnqueue({
          task: 'report',
          queue: 'tenants',
          payload: '{}',
          priority: 0,
          runAt: Date.now() - 1,
          maxAttempts: 1,
          timeoutMs: 0,
          uniqueKey: null,
          idempotencyKey: null,
          callbackUrl: null,
          key,
        });
      }
      const claimed = await api.store.jobClaim({
        workerId: 'w',
        queues: [{ name: 'tenants', limit: 10 }],
        tasks: ['report'],
        leaseMs: 60_000,
      });
      assert.equal(claimed.length, 2);
      const state = (await api.call('GET', '/v1/queues/tenants/limits')).body;
      assert.equal(state.running, 2);
      assert.equal(state.heldBack, 2);
      assert.equal(state.tokens.left, 0);
      assert.ok(Date.parse(state.tokens.nextAt) > Date.now() + 3_000_000, state.tokens.nextAt);
      assert.equal(
        state.keys.reduce((sum: number, key: { running: number }) => sum + key.running, 0),
        2,
      );
      for (const key of state.keys) assert.equal(key.limit, 1);

      const metrics = await api.call('GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /offload_queue_limit_running\{queue="tenants"\} 2\n/);
      assert.match(metrics.body, /offload_queue_held_back_jobs\{queue="tenants"\} 2\n/);
      assert.match(metrics.body, /offload_queue_rate_tokens\{queue="tenants"\} 0\n/);
      assert.match(metrics.body, /offload_queue_rate_tokens\{queue="emails"\} 50\n/);
      assert.doesNotMatch(metrics.body, /offload_queue_rate_tokens\{queue="reports"\}/);
    });

    test('reading limits takes jobs:read; setting and clearing them take admin, like pausing', async () => {
      const reader = await createToken(api.store, { name: 'reader', scopes: ['jobs:read'] });
      const writer = await createToken(api.store, { name: 'writer', scopes: ['jobs:write'] });
      const as = (token: string) => ({ authorization: `Bearer ${token}` });
      assert.equal(
        (await api.call('GET', '/v1/queues/emails/limits', undefined, as(reader.token))).status,
        200,
      );
      for (const token of [reader.token, writer.token]) {
        const put = await api.call(
          'PUT',
          '/v1/queues/emails/limits',
          { concurrency: 1 },
          as(token),
        );
        assert.equal(put.status, 403);
        assert.match(put.body.detail, /lacks the `admin` scope/);
        assert.equal(
          (await api.call('DELETE', '/v1/queues/emails/limits', undefined, as(token))).status,
          403,
        );
      }
      assert.equal((await api.call('GET', '/v1/queues/emails/limits')).body.limits.concurrency, 5);
    });

    test('the OpenAPI document describes the limits routes with their scopes and bodies', async () => {
      const doc = (await api.call('GET', '/v1/openapi.json')).body;
      const path = doc.paths['/v1/queues/{name}/limits'];
      assert.deepEqual(Object.keys(path).sort(), ['delete', 'get', 'put']);
      assert.deepEqual(path.get.security, [{ bearer: ['jobs:read'] }]);
      assert.deepEqual(path.put.security, [{ bearer: ['admin'] }]);
      assert.deepEqual(path.delete.security, [{ bearer: ['admin'] }]);
      assert.equal(
        path.put.requestBody.content['application/json'].schema.$ref,
        '#/components/schemas/QueueLimits',
      );
      assert.ok(path.put.responses['422']);
      const body = doc.components.schemas.QueueLimits;
      assert.deepEqual(Object.keys(body.properties).sort(), [
        'concurrency',
        'keyConcurrency',
        'keyOverrides',
        'keyRate',
        'order',
        'rate',
      ]);
      assert.ok(doc.components.schemas.QueueLimitsState);
    });
  });
}
