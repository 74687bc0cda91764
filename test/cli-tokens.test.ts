import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { authenticateToken } from '../src/auth/tokens.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { makeTempDir } from './helpers/temp.ts';

const run = promisify(execFile);
const temp = makeTempDir('cli-tokens');
after(() => temp.cleanup());
const db = path.join(temp.dir, 'tokens.db');
type Ran = { code?: number; stdout: string; stderr: string };
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [path.resolve('dist/cli/main.js'), '--db', db, ...args], {
    env: { ...process.env, ...env },
  }).catch((error: Ran) => error) as Promise<Ran>;

async function authenticate(token: string) {
  const store = createSqliteStore({ path: db, watchInterval: 0 });
  try {
    return await authenticateToken(store, token);
  } finally {
    await store.close();
  }
}

describe('offload token and offload webhook (built dist)', () => {
  it('creates a token printed once that authenticates, lists it, and revokes it', async () => {
    const created = await cli([
      'token',
      'create',
      '--name',
      'billing',
      '--scope',
      'jobs:write',
      '--scope',
      'jobs:read',
    ]);
    const token = /off_[0-9a-f]{12}_[0-9a-f]{64}/.exec(created.stdout)?.[0];
    assert.ok(token, created.stdout + created.stderr);
    const info = await authenticate(token);
    assert.deepEqual(info?.scopes, ['jobs:write', 'jobs:read']);
    const listed = await cli(['token', 'list']);
    assert.match(
      listed.stdout,
      new RegExp(`${info!.id}\\s+billing\\s+jobs:write,jobs:read\\s.*active`),
    );
    assert.doesNotMatch(listed.stdout, new RegExp(token.slice(17)), 'the secret is never listed');
    const json = JSON.parse((await cli(['--json', 'token', 'list'])).stdout) as Array<{
      id: string;
      revokedAt: number | null;
    }>;
    assert.deepEqual(
      json.map((t) => [t.id, t.revokedAt]),
      [[info!.id, null]],
    );
    const revoked = await cli(['token', 'revoke', info!.id]);
    assert.match(revoked.stdout, new RegExp(`token ${info!.id} revoked`));
    assert.equal(await authenticate(token), undefined);
    assert.match((await cli(['token', 'list'])).stdout, /revoked/);
    const again = await cli(['token', 'revoke', info!.id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no active token with id/);
  });

  it('explains a bad scope by listing the valid ones', async () => {
    const typo = await cli(['token', 'create', '--name', 'x', '--scope', 'jobs:wrte']);
    assert.equal(typo.code, 1);
    assert.match(
      typo.stderr,
      /"jobs:wrte" is not a scope; did you mean "jobs:write"\? \(scopes: jobs:write, jobs:read, admin\) \[ERR_INVALID_OPTION\]/,
    );
    assert.doesNotMatch(typo.stderr, /\n\s+at /);
    const none = await cli(['token', 'create', '--name', 'x']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /at least one scope: jobs:write, jobs:read, admin/);
  });

  it('prints one webhook secret, kept in the store, unless one is configured', async () => {
    const first = (await cli(['webhook', 'secret'])).stdout.trim();
    assert.match(first, /^whsec_[0-9a-f]{64}$/);
    assert.equal((await cli(['webhook', 'secret'])).stdout.trim(), first);
    const configured = await cli(['webhook', 'secret'], {
      OFFLOAD_WEBHOOK_SECRET: 'my-own-secret-0123456789',
    });
    assert.equal(configured.stdout.trim(), 'my-own-secret-0123456789');
  });
});
