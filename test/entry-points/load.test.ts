import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { makeTempDir } from '../helpers/temp.ts';

const run = promisify(execFile);
const temp = makeTempDir('entry-points');
after(() => temp.cleanup());
const recorder = path.resolve('test/fixtures/load-recorder.mjs');
let logs = 0;

interface Loaded {
  /** offload's own modules, relative to dist/. */
  modules: string[];
  /** Third-party packages by name. */
  packages: string[];
  /** Node.js built-ins. */
  builtins: string[];
}

/** What a fresh process loads for `code` (an ES module body), read from the built dist through the package's own exports. */
async function loaded(code: string, args: string[] = []): Promise<Loaded> {
  const log = path.join(temp.dir, `load-${logs++}.log`);
  fs.writeFileSync(log, '');
  const options = { env: { ...process.env, OFFLOAD_LOAD_LOG: log }, cwd: process.cwd() };
  const command = args.length > 0 ? args : ['--input-type=module', '-e', code];
  await run(process.execPath, ['--import', recorder, ...command], options).catch(
    (error: { code?: number }) => {
      if (args.length === 0) throw error;
    },
  );
  const urls = [...new Set(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean))];
  const dist = new URL(`file://${path.resolve('dist')}/`).href;
  const packageOf = (url: string) => {
    const rest = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  };
  return {
    modules: urls
      .filter((url) => url.startsWith(dist))
      .map((url) => url.slice(dist.length))
      .sort(),
    packages: [
      ...new Set(urls.filter((url) => url.includes('/node_modules/')).map(packageOf)),
    ].sort(),
    builtins: urls.filter((url) => url.startsWith('node:')).sort(),
  };
}

const HEAVY = ['better-sqlite3', 'pg', 'fastify', 'prom-client'];

describe('entry points load only what their audience uses (built dist)', () => {
  it("'offload' loads no store, no server and no native addon", async () => {
    const { modules, packages } = await loaded(`await import('offload');`);
    assert.deepEqual(
      packages.filter((name) => HEAVY.includes(name)),
      [],
      `offload loads ${packages.join(', ')}`,
    );
    assert.ok(
      !modules.some(
        (file) =>
          file.startsWith('store/sqlite/') ||
          file.startsWith('store/postgres/') ||
          file.startsWith('server/'),
      ),
      modules.join('\n'),
    );
    // 62: the log relay of ctx.logger (pool/shared/log-relay) and runUntilIdle's tally (worker/run-summary).
    // 63: queue.wait's shared waiter (queue/job-waits). 64: queue.update's checks (queue/job-update).
    // 66: the job fields of log lines and each run's end line (worker/job-log), the trace id of a job (core/trace-id).
    // 67: the checks of job meta and tags (core/job-meta).
    assert.ok(
      modules.length <= 67,
      `offload loads ${modules.length} of its own modules:\n${modules.join('\n')}`,
    );
  });

  it("'offload/webhooks' loads node built-ins and its own few files, nothing else", async () => {
    const { modules, packages, builtins } = await loaded(`await import('offload/webhooks');`);
    assert.deepEqual(packages, []);
    assert.ok(modules.length <= 6, modules.join('\n'));
    assert.ok(
      modules.every(
        (file) =>
          file.startsWith('webhooks/') || file.startsWith('core/') || file === 'store/contract.js',
      ),
      modules.join('\n'),
    );
    assert.ok(builtins.includes('node:crypto'));
  });

  it("'offload/metrics' loads prom-client, not the HTTP server nor a store", async () => {
    const { modules, packages } = await loaded(`await import('offload/metrics');`);
    assert.ok(packages.includes('prom-client'), packages.join(', '));
    assert.deepEqual(
      packages.filter((name) => HEAVY.includes(name) && name !== 'prom-client'),
      [],
      `offload/metrics loads ${packages.join(', ')}`,
    );
    assert.ok(
      modules.every((file) => !file.startsWith('server/') || file === 'server/metrics.js'),
      modules.join('\n'),
    );
  });

  it("'offload/postgres' loads no SQLite addon, and 'offload/sqlite' no pg", async () => {
    assert.ok(
      !(await loaded(`await import('offload/postgres');`)).packages.includes('better-sqlite3'),
    );
    const sqlite = await loaded(`await import('offload/sqlite');`);
    assert.ok(sqlite.packages.includes('better-sqlite3'));
    assert.ok(!sqlite.packages.includes('pg'));
  });

  it("'offload/task' and 'offload/pool' load neither a store nor the server", async () => {
    for (const entry of ['offload/task', 'offload/pool']) {
      const { packages } = await loaded(`await import('${entry}');`);
      assert.deepEqual(
        packages.filter((name) => HEAVY.includes(name)),
        [],
        `${entry} loads ${packages.join(', ')}`,
      );
    }
  });

  it("'offload/testing' loads neither a store addon nor the server until a test queue needs SQLite", async () => {
    const { packages } = await loaded(`await import('offload/testing');`);
    assert.deepEqual(
      packages.filter((name) => HEAVY.includes(name)),
      [],
      `offload/testing loads ${packages.join(', ')}`,
    );
    const used = await loaded(
      `const { createTestQueue } = await import('offload/testing');` +
        `const { defineTask } = await import('offload');` +
        `const kit = await createTestQueue({ tasks: [defineTask({ name: 'x', run: () => 1 })] });` +
        `await kit.close();`,
    );
    assert.ok(used.packages.includes('better-sqlite3'), used.packages.join(', '));
    assert.ok(!used.packages.includes('pg'), used.packages.join(', '));
  });

  it('`offload worker --db postgres://…` never loads better-sqlite3', async () => {
    const { packages, modules } = await loaded('', [
      path.resolve('dist/cli/main.js'),
      'worker',
      '--db',
      'postgres://postgres@127.0.0.1:1/none',
      '--tasks',
      path.resolve('examples/quickstart/tasks.ts'),
    ]);
    assert.ok(
      modules.includes('store/postgres/postgres-store.js'),
      'the CLI opened the PostgreSQL store',
    );
    assert.ok(!packages.includes('better-sqlite3'), packages.join(', '));
  });

  it('`--db` with an unknown scheme names the two that exist', async () => {
    const failed = await run(process.execPath, [
      path.resolve('dist/cli/main.js'),
      'jobs',
      '--db',
      'mysql://localhost/x',
    ]).catch((error: { code: number; stderr: string }) => error);
    assert.equal((failed as { code: number }).code, 1);
    assert.match(
      (failed as { stderr: string }).stderr,
      /"mysql:\/\/" is not a store offload knows; give a file path \(the embedded SQLite store\) or a postgres:\/\/ URL \(PostgreSQL\) \[ERR_INVALID_OPTION\]/,
    );
  });
});
