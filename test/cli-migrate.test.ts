import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { makeTempDir } from './helpers/temp.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
} from './helpers/postgres.ts';
import { migrations as pgMigrations } from '../src/store/postgres/migrations.ts';
import { migrations as sqliteMigrations } from '../src/store/sqlite/migrations.ts';

const run = promisify(execFile);
const temp = makeTempDir('cli-migrate');
const schema = uniqueSchema('cli_migrate');
after(async () => {
  temp.cleanup();
  await dropSchema(schema);
});
type Output = { code?: number; stdout: string; stderr: string };
const cli = (...args: string[]) =>
  run(process.execPath, [path.resolve('dist/cli/main.js'), ...args]).catch(
    (error: Output) => error,
  ) as Promise<Output>;
const json = (output: Output) =>
  JSON.parse(output.stdout) as {
    from: number;
    to: number;
    dryRun: boolean;
    migrations: Array<{ version: number; name: string }>;
  };

describe('offload migrate (built dist)', () => {
  it('on SQLite: --dry-run lists every pending migration and creates nothing; migrate applies them once', async () => {
    const db = path.join(temp.dir, 'fresh.db');
    const dry = await cli('--db', db, 'migrate', '--dry-run', '--json');
    assert.deepEqual(json(dry), {
      store: db,
      dryRun: true,
      from: 0,
      to: 0,
      migrations: sqliteMigrations.map(({ version, name }) => ({ version, name })),
    } as never);
    assert.equal(fs.existsSync(db), false);
    const applied = await cli('--db', db, 'migrate');
    assert.match(
      applied.stdout,
      new RegExp(
        `applied ${sqliteMigrations.length} migrations, from schema version 0 to ${sqliteMigrations.length}`,
      ),
    );
    assert.match(applied.stdout, /1 jobs, queues and tasks/);
    const again = await cli('--db', db, 'migrate');
    assert.match(again.stdout, /is up to date.*nothing to do/);
    const jobs = await cli('--db', db, 'jobs', '--json');
    assert.deepEqual((JSON.parse(jobs.stdout) as { jobs: unknown[] }).jobs, []);
  });

  it('on SQLite: refuses a file of another application and --schema, naming what to fix', async () => {
    const foreign = path.join(temp.dir, 'foreign.db');
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(foreign);
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    db.close();
    const refused = await cli('--db', foreign, 'migrate', '--dry-run');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /another application \(tables: invoices\).*\[ERR_STORE_CORRUPT\]/);
    const schemaFlag = await cli(
      '--db',
      path.join(temp.dir, 'x.db'),
      'migrate',
      '--schema',
      'nope',
    );
    assert.equal(schemaFlag.code, 1);
    assert.match(schemaFlag.stderr, /--schema names a PostgreSQL schema/);
  });

  it('on PostgreSQL: --dry-run changes nothing; migrate applies under the lock and reports; a second run has nothing to do', async () => {
    await requirePostgres();
    const dry = await cli(
      '--db',
      TEST_PG_URL,
      'migrate',
      '--schema',
      schema,
      '--dry-run',
      '--json',
    );
    assert.equal(dry.code, undefined, dry.stderr);
    assert.deepEqual(
      json(dry).migrations.map((m) => m.version),
      pgMigrations.map((m) => m.version),
    );
    assert.equal(
      (await adminQuery('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).length,
      0,
    );

    const applied = await cli('--db', TEST_PG_URL, 'migrate', '--schema', schema);
    assert.equal(applied.code, undefined, applied.stderr);
    assert.match(
      applied.stdout,
      new RegExp(
        `\\(schema ${schema}\\): applied ${pgMigrations.length} migrations, from schema version 0 to ${pgMigrations.length}`,
      ),
    );
    const recorded = await adminQuery<{ version: number }>(
      `SELECT version FROM "${schema}".migrations ORDER BY version`,
    );
    assert.deepEqual(
      recorded.map((row) => row.version),
      pgMigrations.map((m) => m.version),
    );

    const again = json(await cli('--db', TEST_PG_URL, 'migrate', '--schema', schema, '--json'));
    assert.deepEqual(again, {
      store: `${TEST_PG_URL.replace(/:[^:@/]*@/, '@')} (schema ${schema})`,
      dryRun: false,
      from: pgMigrations.length,
      to: pgMigrations.length,
      migrations: [],
    } as never);
  });

  it('on PostgreSQL: an unreachable server fails with a message naming the address', async () => {
    const refused = await cli('--db', 'postgres://postgres@127.0.0.1:1/test', 'migrate');
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/test.*\[ERR_STORE_CONNECT\]/,
    );
  });
});
