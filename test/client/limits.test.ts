import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../../src/auth/tokens.ts';
import {
  createClient,
  ProblemError,
  type ApiLimits,
  type OffloadClient,
} from '../../src/client/index.ts';
import type { LimitsView } from '../../src/server/limits-view.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

/** The client's limits shape must keep up with what the server sends (checked by the compiler). */
const _serverViewFitsClientLimits = (view: LimitsView): ApiLimits => view;
void _serverViewFitsClientLimits;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('offload/client: queue limits against a real server on SQLite', () => {
  let api: ApiHarness;
  let client: OffloadClient;
  before(async () => {
    api = await startApi([], { worker: false });
    client = createClient({ url: api.url, token: api.token });
  });
  after(() => api.close());

  test('setLimits answers the limits as stored; getLimits and listQueues read them back', async () => {
    const set = await client.setLimits('client-emails', {
      concurrency: 4,
      rate: { limit: 20, per: '1m' },
    });
    assert.deepEqual(set.limits, { concurrency: 4, rate: { limit: 20, per: 60_000 } });
    assert.deepEqual(set.runtime, set.limits);
    assert.deepEqual(set.tokens, { left: 20, nextAt: null });
    assert.deepEqual(await client.getLimits('client-emails'), set);
    const queue = (await client.listQueues()).find((q) => q.name === 'client-emails');
    assert.deepEqual(queue?.limits, set);
    assert.deepEqual((await api.queue.getLimits('client-emails'))?.limits, set.limits);
  });

  test('clearLimits leaves a queue without limits: getLimits is undefined', async () => {
    await client.setLimits('client-brief', { keyConcurrency: 1 });
    await client.clearLimits('client-brief');
    assert.equal(await client.getLimits('client-brief'), undefined);
    assert.equal(await api.queue.getLimits('client-brief'), undefined);
  });

  test('a limit out of range is a ProblemError 422 naming the field, and nothing is stored', async () => {
    for (const [limits, field] of [
      [{ concurrency: 0 }, 'body.concurrency'],
      [{ concurency: 3 }, 'body'],
      [{ rate: { limit: 5000, per: '1ms' } }, 'body.rate.per'],
    ] as const) {
      const error = await rejection(client.setLimits('client-refused', limits as never));
      assert.ok(error instanceof ProblemError, String(error));
      assert.equal(error.status, 422);
      assert.equal(error.code, 'ERR_INVALID_OPTION');
      assert.equal(error.errors[0]?.field, field);
    }
    assert.equal(await client.getLimits('client-refused'), undefined);
  });

  test('a token without admin may read limits but not change them', async () => {
    const reader = await createToken(api.store, { name: 'reader', scopes: ['jobs:read'] });
    const limited = createClient({ url: api.url, token: reader.token });
    await client.setLimits('client-guarded', { concurrency: 2 });
    assert.equal((await limited.getLimits('client-guarded'))?.limits.concurrency, 2);
    const refused = await rejection(limited.setLimits('client-guarded', { concurrency: 9 }));
    assert.ok(refused instanceof ProblemError);
    assert.equal(refused.status, 403);
    const notCleared = await rejection(limited.clearLimits('client-guarded'));
    assert.ok(notCleared instanceof ProblemError);
    assert.equal(notCleared.status, 403);
    assert.equal((await client.getLimits('client-guarded'))?.limits.concurrency, 2);
  });
});
