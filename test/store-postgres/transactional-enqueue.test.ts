import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { OffloadError } from '../../src/core/errors.ts';
import { createQueue } from '../../src/queue/queue.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

const sendEmail = defineTask({ name: 'send-email', run: async (payload: unknown) => payload });

describe("postgres store: enqueue inside the caller's transaction", () => {
  let schema: string;
  let store: PostgresStore;
  let other: PostgresStore;
  let client: pg.Client;

  beforeEach(async () => {
    await requirePostgres();
    schema = uniqueSchema('tx');
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
    other = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
    client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
    await store.close();
    await other.close();
    await dropSchema(schema);
  });

  it('keeps the job only if the transaction commits, and announces it on commit', async () => {
    const queue = createQueue({ store, tasks: [sendEmail] });
    const announced: string[] = [];
    other.on('job:enqueued', (e) => announced.push(e.id));
    store.on('job:enqueued', (e) => announced.push(`self:${e.id}`));

    await client.query('BEGIN');
    const rolledBack = await queue.enqueue(sendEmail, { to: 'a@example.com' }, { client });
    assert.equal(await store.jobGet({ id: rolledBack.id }), undefined, 'invisible before commit');
    await client.query('ROLLBACK');
    assert.equal(await store.jobGet({ id: rolledBack.id }), undefined, 'gone after rollback');

    await client.query('BEGIN');
    const committed = await queue.enqueue(sendEmail, { to: 'b@example.com' }, { client });
    const [bulk] = await queue.enqueueMany(
      [{ task: sendEmail, payload: { to: 'c@example.com' } }],
      { client },
    );
    assert.deepEqual(announced, [], 'nothing is announced before commit');
    await client.query('COMMIT');
    assert.equal((await store.jobGet({ id: committed.id }))?.state, 'queued');
    assert.ok(await store.jobGet({ id: bulk!.id }));
    await waitFor(() => announced.length === 4, { what: 'enqueue events after commit' });
    assert.deepEqual(
      announced.sort(),
      [committed.id, bulk!.id, `self:${committed.id}`, `self:${bulk!.id}`].sort(),
    );
  });

  it('refuses something that is not a client, and the SQLite store refuses clients', async () => {
    const queue = createQueue({ store, tasks: [sendEmail] });
    await assert.rejects(
      queue.enqueue(sendEmail, { to: 'x' }, { client: {} }),
      (e: unknown) => e instanceof OffloadError && e.code === 'ERR_INVALID_OPTION',
    );
    const { dir, cleanup } = makeTempDir('tx');
    const sqlite = createSqliteStore({ path: `${dir}/s.db` });
    try {
      const local = createQueue({ store: sqlite, tasks: [sendEmail] });
      await assert.rejects(
        local.enqueue(sendEmail, { to: 'x' }, { client }),
        /needs the PostgreSQL store/,
      );
    } finally {
      await sqlite.close();
      cleanup();
    }
  });
});
