import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createToken, revokeToken } from '../../src/auth/tokens.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { verifyWebhook } from '../../src/webhooks/signature.ts';
import { startApi, TEST_WEBHOOK_SECRET, type ApiHarness } from '../helpers/api.ts';
import { waitFor } from '../helpers/temp.ts';

const double = defineTask({ name: 'double', run: async (payload: { n: number }) => payload.n * 2 });

describe('HTTP API with stored tokens, idempotency keys and webhooks', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([double]);
  });
  after(() => api.close());

  test('stored tokens authenticate with their scopes; a revoked token is refused', async () => {
    const writer = await createToken(api.store, { name: 'writer', scopes: ['jobs:write'] });
    const reader = await createToken(api.store, { name: 'reader', scopes: ['jobs:read'] });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const created = await api.call(
      'POST',
      '/v1/jobs',
      { task: 'double', payload: { n: 2 } },
      as(writer.token),
    );
    assert.equal(created.status, 202);
    assert.equal(
      (await api.call('GET', `/v1/jobs/${created.body.id}`, undefined, as(writer.token))).status,
      403,
    );
    assert.equal(
      (await api.call('GET', `/v1/jobs/${created.body.id}`, undefined, as(reader.token))).status,
      200,
    );
    assert.equal(
      (await api.call('POST', '/v1/jobs', { task: 'double', payload: { n: 2 } }, as(reader.token)))
        .status,
      403,
    );
    const tampered = reader.token.slice(0, -2) + (reader.token.endsWith('aa') ? 'bb' : 'aa');
    assert.equal((await api.call('GET', '/v1/jobs', undefined, as(tampered))).status, 401);
    await revokeToken(api.store, reader.info.id);
    const revoked = await api.call('GET', '/v1/jobs', undefined, as(reader.token));
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.detail, /unknown or revoked/);
  });

  test('an Idempotency-Key replays the first job (200) and refuses a different payload (409)', async () => {
    const key = { 'idempotency-key': `order-${Date.now()}` };
    const first = await api.call('POST', '/v1/jobs', { task: 'double', payload: { n: 21 } }, key);
    assert.equal(first.status, 202);
    await api.call('GET', `/v1/jobs/${first.body.id}?wait=10s`);
    const replay = await api.call('POST', '/v1/jobs', { task: 'double', payload: { n: 21 } }, key);
    assert.equal(replay.status, 200);
    assert.equal(replay.body.id, first.body.id);
    assert.equal(replay.body.result, 42);
    const conflict = await api.call(
      'POST',
      '/v1/jobs',
      { task: 'double', payload: { n: 22 } },
      key,
    );
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.code, 'ERR_IDEMPOTENCY_CONFLICT');
    const bad = await api.call(
      'POST',
      '/v1/jobs',
      { task: 'double', payload: { n: 1 } },
      { 'idempotency-key': 'has spaces' },
    );
    assert.equal(bad.status, 400);
    assert.match(bad.body.detail, /headers/);
  });

  test('a callbackUrl gets a signed POST of the outcome, and the delivery shows on the job', async () => {
    const received: Array<{ body: string; signature: string }> = [];
    const receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ body, signature: String(request.headers['offload-signature']) });
        response.writeHead(received.length === 1 ? 503 : 204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const created = await api.call('POST', '/v1/jobs', {
        task: 'double',
        payload: { n: 5 },
        callbackUrl: url,
      });
      assert.equal(created.body.callbackUrl, url);
      await waitFor(() => received.length >= 2, { what: 'two delivery attempts' });
      const outcome = verifyWebhook({
        secret: TEST_WEBHOOK_SECRET,
        body: received[1]!.body,
        signature: received[1]!.signature,
      }) as { id: string; state: string; result: unknown };
      assert.equal(outcome.id, created.body.id);
      assert.equal(outcome.state, 'succeeded');
      assert.equal(outcome.result, 10);
      let job:
        | { webhook: { state: string; attempts: number; lastError: string | null } | null }
        | undefined;
      await waitFor(
        async () => {
          job = (await api.call('GET', `/v1/jobs/${created.body.id}`)).body;
          return job?.webhook?.state === 'succeeded';
        },
        { what: 'the delivery to be recorded' },
      );
      assert.equal(job!.webhook!.attempts, 2);
      assert.throws(
        () =>
          verifyWebhook({
            secret: TEST_WEBHOOK_SECRET,
            body: received[1]!.body.replace('10', '11'),
            signature: received[1]!.signature,
          }),
        /signature/i,
      );
    } finally {
      receiver.close();
    }
  });
});

describe('binding beyond loopback', () => {
  test('is refused while no stored token exists, allowed once one does', async () => {
    const api = await startApi([double], { worker: false }).catch((error: unknown) => error);
    assert.ok(!(api instanceof Error));
    const { createServer } = await import('../../src/server/server.ts');
    const open = createServer({ store: (api as ApiHarness).store, host: '0.0.0.0', port: 0 });
    await assert.rejects(open.listen(), /refusing to serve 0\.0\.0\.0.*offload token create/);
    await open.close();
    await createToken((api as ApiHarness).store, { name: 'ops', scopes: ['admin'] });
    const guarded = createServer({ store: (api as ApiHarness).store, host: '0.0.0.0', port: 0 });
    assert.match(await guarded.listen(), /^http:\/\/0\.0\.0\.0:\d+$/);
    await guarded.close();
    await (api as ApiHarness).close();
  });
});
