import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken, revokeToken } from '../../src/auth/tokens.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { makeTempDir } from '../helpers/temp.ts';

const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });

describe('who gets in', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([echo], { worker: false });
  });
  after(() => api.close());

  const status = async (
    headers: Record<string, string>,
    method = 'GET',
    route = '/v1/jobs',
    body?: unknown,
  ) => (await api.call(method, route, body, headers)).status;

  test('no token, a made-up token, a revoked token and a token of the wrong scope are refused', async () => {
    assert.equal(await status({ authorization: '' }), 401);
    assert.equal(await status({ authorization: 'Bearer off_abc_def' }), 401);
    const reader = await createToken(api.store, { name: 'reader', scopes: ['jobs:read'] });
    assert.equal(await status({ authorization: `Bearer ${reader.token}` }), 200);
    assert.equal(
      await status({ authorization: `Bearer ${reader.token}` }, 'POST', '/v1/jobs', {
        task: 'echo',
        payload: 1,
      }),
      403,
    );
    assert.equal(
      await status({ authorization: `Bearer ${reader.token}` }, 'POST', '/v1/queues/default/pause'),
      403,
    );
    await revokeToken(api.store, reader.info.id);
    assert.equal(await status({ authorization: `Bearer ${reader.token}` }), 401);
  });

  test('a forged or expired session cookie is refused, and a real one still needs its CSRF token to change anything', async () => {
    assert.equal(
      await status({ authorization: '', cookie: 'offload_session=forged-session-id' }),
      401,
    );
    const login = await fetch(`${api.url}/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: api.token }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    assert.match(login.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    assert.equal(await status({ authorization: '', cookie }), 200);
    assert.equal(
      await status({ authorization: '', cookie }, 'POST', '/v1/jobs', { task: 'echo', payload: 1 }),
      403,
    );
    assert.equal(
      await status({ authorization: '', cookie, 'x-csrf-token': 'forged' }, 'POST', '/v1/jobs', {
        task: 'echo',
        payload: 1,
      }),
      403,
    );
    assert.equal(
      await status({ authorization: '', cookie, 'x-csrf-token': csrfToken }, 'POST', '/v1/jobs', {
        task: 'echo',
        payload: 1,
      }),
      202,
    );
    const logout = await fetch(`${api.url}/v1/session/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    assert.equal(logout.status, 204);
    assert.equal(await status({ authorization: '', cookie }), 401, 'a logged-out session is dead');
    assert.equal(
      (await api.queue.countJobs()).queued,
      1,
      'only the request with the CSRF token wrote a job',
    );
  });

  test('the dashboard is served with a strict content security policy', async () => {
    const page = await fetch(`${api.url}/`);
    assert.match(
      page.headers.get('content-security-policy') ?? '',
      /script-src 'self'.*frame-ancestors 'none'/,
    );
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  });
});

describe('what a request can reach', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([echo], { worker: true });
  });
  after(() => api.close());

  test('a task named like a path or URL loads nothing: it is an unknown task', async () => {
    const marker = path.join(makeTempDir('security').dir, 'loaded.txt');
    const module = path.join(path.dirname(marker), 'evil.mjs');
    fs.writeFileSync(
      module,
      `import fs from 'node:fs'; fs.writeFileSync(${JSON.stringify(marker)}, 'loaded'); export const x = 1;`,
    );
    for (const task of [
      module,
      `file://${module}`,
      '../../../etc/passwd',
      'node:child_process',
      'http://127.0.0.1:9/tasks.js',
    ]) {
      const answer = await api.call('POST', '/v1/jobs', { task, payload: {} });
      assert.equal(answer.status, 422, task);
      assert.equal(answer.body.code, 'ERR_TASK_NOT_FOUND');
    }
    assert.equal(fs.existsSync(marker), false, 'no module named over HTTP was loaded');
    const tasks = await api.call('GET', '/v1/tasks');
    assert.deepEqual(
      tasks.body.tasks.map((t: { name: string }) => t.name),
      ['echo'],
    );
  });

  test('payloads are data: a payload that looks like code or SQL runs nothing and comes back unchanged', async () => {
    const payload = {
      code: "require('child_process').execSync('touch /tmp/offload-pwned')",
      shell: '$(touch /tmp/offload-pwned); `id`',
      sql: "'); DROP TABLE offload_jobs; --",
    };
    const created = await api.call('POST', '/v1/jobs', {
      task: 'echo',
      payload,
      queue: 'default',
      uniqueKey: "x' OR '1'='1",
    });
    assert.equal(created.status, 202);
    const done = await api.call('GET', `/v1/jobs/${created.body.id}?wait=10s`);
    assert.equal(done.body.state, 'succeeded');
    assert.deepEqual(done.body.result, payload);
    assert.equal(fs.existsSync('/tmp/offload-pwned'), false);
    const poisoned = await api.call(
      'POST',
      '/v1/jobs',
      '{"task":"echo","payload":{"__proto__":{"polluted":true}}}',
    );
    assert.equal(poisoned.status, 400, 'prototype poisoning is refused at parse time');
    const constructor = await api.call(
      'POST',
      '/v1/jobs',
      '{"task":"echo","payload":{"constructor":{"prototype":{"polluted":true}}}}',
    );
    assert.equal(constructor.status, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.ok(
      (await api.call('GET', '/v1/jobs?limit=5')).body.jobs.length >= 1,
      'the jobs table is intact',
    );
  });

  test('SQL in filters and cursors is refused or taken literally', async () => {
    for (const query of [
      "queue=default'%20OR%201=1--",
      'cursor=1%20OR%201=1',
      "task=echo'%3B%20DROP%20TABLE%20offload_jobs--",
      'state=queued%27',
    ]) {
      const answer = await api.call('GET', `/v1/jobs?${query}`);
      assert.ok(
        answer.status === 400 || (answer.status === 200 && answer.body.jobs.length === 0),
        `${query} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`,
      );
    }
    assert.ok((await api.call('GET', '/v1/jobs?task=echo')).body.jobs.length >= 1);
  });
});

describe('secrets stay out of logs', () => {
  test('offload start at debug level logs no bearer token, cookie, stored token or webhook secret', async () => {
    const { dir, cleanup } = makeTempDir('security-logs');
    const db = path.join(dir, 'db.sqlite');
    const cli = path.resolve('dist/cli/main.js');
    const secret = 'whsec_do_not_log_this_secret_0123456789';
    const token = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [cli, 'token', 'create', '--db', db, '--name', 'ci', '--scope', 'admin', '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', (code) =>
        code === 0
          ? resolve((JSON.parse(out) as { token: string }).token)
          : reject(new Error(`token create exited ${code}`)),
      );
    });
    const child = spawn(
      process.execPath,
      [
        cli,
        'start',
        '--db',
        db,
        '--tasks',
        path.resolve('examples/quickstart/tasks.ts'),
        '--port',
        '0',
        '--log-level',
        'debug',
      ],
      {
        env: { ...process.env, OFFLOAD_WEBHOOK_SECRET: secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!/HTTP API on (http:\/\/[\d.:]+)/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`offload start did not come up:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const url = /HTTP API on (http:\/\/[\d.:]+)/.exec(output)![1]!;
      const headers = {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        cookie: 'offload_session=cookie-secret-value',
      };
      const created = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          task: 'hello',
          payload: { name: 'x' },
          callbackUrl: 'http://127.0.0.1:9/hook',
        }),
      });
      assert.equal(created.status, 202);
      await fetch(`${url}/v1/jobs/999999999`, { headers });
      await fetch(`${url}/v1/jobs`, { headers: { authorization: 'Bearer off_wrong_guess' } });
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      cleanup();
    }
    const secretPart = token.split('_').at(-1)!;
    assert.ok(!output.includes(secretPart), 'the stored token never appears in the logs');
    assert.ok(!output.includes(secret), 'the webhook secret never appears in the logs');
    assert.ok(!output.includes('cookie-secret-value'), 'cookies never appear in the logs');
    assert.ok(!output.includes('off_wrong_guess'), 'refused tokens never appear in the logs');
    assert.match(
      output,
      /session token/,
      'the session token is printed once, by design, for whoever started the server',
    );
  });
});
