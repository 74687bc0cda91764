import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authenticateToken,
  createToken,
  hasScope,
  listTokens,
  revokeToken,
} from '../../src/auth/tokens.ts';
import { OffloadError } from '../../src/core/errors.ts';
import { getWebhookSecret } from '../../src/webhooks/secret.ts';
import type { ContractKit } from './kit.ts';

/** Settings, and API tokens through src/auth/tokens.ts over each store. */
export function tokensContract(t: ContractKit): void {
  describe('settings', () => {
    it('gets, sets, and creates once for every connection', async () => {
      const store = t.store();
      assert.equal(await store.settingGet({ key: 'a' }), undefined);
      await store.settingSet({ key: 'a', value: '1' });
      await store.settingSet({ key: 'a', value: '2' });
      assert.equal(await store.settingGet({ key: 'a' }), '2');
      assert.equal(await store.settingInit({ key: 'a', value: '3' }), '2');
      const others = [store, await t.open(), await t.open()];
      const secrets = await Promise.all(others.map((s) => getWebhookSecret(s)));
      assert.equal(new Set(secrets).size, 1, 'every connection agrees on one generated secret');
      assert.match(secrets[0]!, /^whsec_[0-9a-f]{64}$/);
      assert.equal(await getWebhookSecret(store), secrets[0]);
    });
  });

  describe('API tokens', () => {
    it('creates a token shown once, stored hashed, that authenticates', async () => {
      const store = t.store();
      const { token, info } = await createToken(store, {
        name: 'billing',
        scopes: ['jobs:write', 'jobs:read'],
      });
      assert.match(token, /^off_[0-9a-f]{12}_[0-9a-f]{64}$/);
      assert.equal(info.name, 'billing');
      assert.deepEqual(info.scopes, ['jobs:write', 'jobs:read']);
      assert.equal(info.createdAt, t.clock().now());
      const record = await store.tokenGet({ id: info.id });
      assert.ok(record);
      assert.ok(!token.includes(record.hash), 'the stored hash is not the secret');
      assert.match(record.hash, /^[0-9a-f]{64}$/);
      const other = await t.open();
      const authed = await authenticateToken(other, token);
      assert.equal(authed?.id, info.id);
      assert.equal(authed?.lastUsedAt, t.clock().now());
      assert.equal(
        (await store.tokenGet({ id: info.id }))?.lastUsedAt,
        t.clock().now(),
        'the use was recorded',
      );
      assert.equal(hasScope(authed!, 'jobs:read'), true);
      assert.equal(hasScope(authed!, 'admin'), false);
    });

    it('refuses tampered, malformed, unknown and revoked tokens', async () => {
      const store = t.store();
      const { token, info } = await createToken(store, { name: 'ci', scopes: ['admin'] });
      assert.equal(hasScope(info, 'jobs:write'), true, 'admin implies the other scopes');
      const flip = (s: string, at: number) =>
        s.slice(0, at) + (s[at] === '0' ? '1' : '0') + s.slice(at + 1);
      assert.equal(
        await authenticateToken(store, flip(token, token.length - 1)),
        undefined,
        'secret changed',
      );
      assert.equal(await authenticateToken(store, flip(token, 5)), undefined, 'id changed');
      for (const bad of [
        '',
        'off_',
        `${token}0`,
        token.toUpperCase(),
        `Bearer ${token}`,
        'off_zzzzzzzzzzzz_' + 'a'.repeat(64),
      ]) {
        assert.equal(
          await authenticateToken(store, bad),
          undefined,
          `refuses ${JSON.stringify(bad.slice(0, 20))}`,
        );
      }
      assert.ok(await authenticateToken(store, token));
      t.clock().advance(1000);
      assert.equal(await revokeToken(store, info.id), true);
      assert.equal(await revokeToken(store, info.id), false, 'revoking twice reports false');
      assert.equal(await revokeToken(store, 'nope'), false);
      assert.equal(await authenticateToken(store, token), undefined, 'a revoked token is refused');
      const [listed] = await listTokens(store);
      assert.equal(listed?.revokedAt, t.clock().now());
    });

    it('lists tokens oldest first without secrets, and refuses bad scopes and names', async () => {
      const store = t.store();
      const a = await createToken(store, { name: 'a', scopes: ['jobs:read'] });
      t.clock().advance(1);
      const b = await createToken(store, { name: 'b', scopes: ['jobs:write', 'jobs:write'] });
      const listed = await listTokens(store);
      assert.deepEqual(
        listed.map((x) => [x.id, x.name, x.scopes]),
        [
          [a.info.id, 'a', ['jobs:read']],
          [b.info.id, 'b', ['jobs:write']],
        ],
      );
      assert.ok(!JSON.stringify(listed).includes('hash'));
      const scopeError = (e: unknown) =>
        e instanceof OffloadError &&
        e.code === 'ERR_INVALID_OPTION' &&
        /jobs:write, jobs:read, admin/.test(e.message);
      await assert.rejects(
        createToken(store, { name: 'x', scopes: ['jobs:wrte' as never] }),
        (e: unknown) => scopeError(e) && /did you mean "jobs:write"/.test((e as Error).message),
      );
      await assert.rejects(createToken(store, { name: 'x', scopes: [] }), scopeError);
      await assert.rejects(
        createToken(store, { name: ' ', scopes: ['admin'] }),
        (e: unknown) => e instanceof OffloadError && e.code === 'ERR_INVALID_OPTION',
      );
      assert.equal((await listTokens(store)).length, 2);
    });

    it('records uses at most once a minute', async () => {
      const store = t.store();
      const { token, info } = await createToken(store, { name: 'busy', scopes: ['jobs:read'] });
      await authenticateToken(store, token);
      const first = t.clock().now();
      t.clock().advance(30_000);
      await authenticateToken(store, token);
      assert.equal((await store.tokenGet({ id: info.id }))?.lastUsedAt, first);
      t.clock().advance(30_000);
      await authenticateToken(store, token);
      assert.equal((await store.tokenGet({ id: info.id }))?.lastUsedAt, t.clock().now());
    });
  });
}
