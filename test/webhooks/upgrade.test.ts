import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { migrations as pgMigrations } from '../../src/store/postgres/migrations.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { migrations as sqliteMigrations } from '../../src/store/sqlite/migrations.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/contract.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
} from '../helpers/postgres.ts';
import { makeTempDir } from '../helpers/temp.ts';

const temp = makeTempDir('upgrade');
const schema = uniqueSchema('upgrade');
after(async () => {
  temp.cleanup();
  await dropSchema(schema);
});

const INSERT_V1 = `INSERT INTO {jobs} (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, created_at)
  VALUES ('default', 'old', '{"n":1}', 'queued', 0, 1, 3, 0, 1)`;

/** A store written by version 1 keeps its jobs and gains the new columns, trigger and tables of every later migration. */
async function assertUpgraded(store: Store, versions: number[], latest: number): Promise<void> {
  assert.deepEqual(
    versions,
    Array.from({ length: latest }, (_, i) => i + 1),
  );
  const old = await store.jobGet({ id: '1' });
  assert.equal(old?.task, 'old');
  assert.deepEqual(
    [old?.callbackUrl, old?.webhookJobId, old?.idempotencyKey, old?.placement, old?.outputTail],
    [null, null, null, null, null],
  );
  const { job } = await store.jobEnqueue({
    task: 'old',
    queue: 'default',
    payload: '{}',
    priority: 0,
    runAt: 2,
    maxAttempts: 1,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: 'k',
    callbackUrl: 'http://127.0.0.1:9/h',
  });
  const cancelled = await store.jobCancel({ id: job.id });
  assert.ok(cancelled.webhookJobId, 'the webhook trigger works on an upgraded store');
  assert.equal(await store.settingInit({ key: 'a', value: 'b' }), 'b');
  await store.workerHeartbeat({
    id: 'h:1:a',
    host: 'h',
    pid: 1,
    modes: ['inline'],
    queues: ['default'],
    running: 0,
    startedAt: 1,
    lastHeartbeat: Date.now(),
  });
  assert.equal(
    (await store.workerList({ since: 0 })).length,
    1,
    'the worker registry exists on an upgraded store',
  );
  const claimed = await store.jobClaim({
    workerId: 'h:1:a',
    queues: [{ name: 'default', limit: 10 }],
    tasks: ['old'],
    leaseMs: 60_000,
  });
  assert.deepEqual(
    claimed.map((claimedJob) => claimedJob.id),
    ['1'],
    'the job written by version 1 is claimed on an upgraded store',
  );
}

describe('every later migration on a store written by version 1', () => {
  it('upgrades a SQLite file', async () => {
    const file = path.join(temp.dir, 'v1.db');
    const db = new Database(file);
    db.exec(
      `CREATE TABLE offload_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
    );
    db.exec(sqliteMigrations[0]!.sql);
    db.prepare(`INSERT INTO offload_migrations VALUES (1, 'v1', 0)`).run();
    db.exec(INSERT_V1.replace('{jobs}', 'offload_jobs'));
    db.close();
    const store = createSqliteStore({ path: file, watchInterval: 0 });
    try {
      const check = new Database(file, { readonly: true });
      const versions = (
        check.prepare('SELECT version FROM offload_migrations ORDER BY 1').all() as Array<{
          version: number;
        }>
      ).map((r) => r.version);
      check.close();
      await assertUpgraded(store, versions, sqliteMigrations.length);
    } finally {
      await store.close();
    }
  });

  it('upgrades a PostgreSQL schema', async () => {
    await requirePostgres();
    const q = `"${schema}"`;
    await adminQuery(
      `CREATE SCHEMA ${q}; CREATE TABLE ${q}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    await adminQuery(pgMigrations[0]!.sql.replaceAll('{s}', q));
    await adminQuery(`INSERT INTO ${q}.migrations (version, name) VALUES (1, 'v1')`);
    await adminQuery(INSERT_V1.replace('{jobs}', `${q}.jobs`));
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      listen: false,
    });
    try {
      const versions = (
        await adminQuery<{ version: number }>(`SELECT version FROM ${q}.migrations ORDER BY 1`)
      ).map((r) => r.version);
      await assertUpgraded(store, versions, pgMigrations.length);
    } finally {
      await store.close();
    }
  });
});
