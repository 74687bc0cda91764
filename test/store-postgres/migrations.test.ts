import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import { LATEST_VERSION } from '../../src/store/postgres/migrations.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
} from '../helpers/postgres.ts';

const schemas: string[] = [];
const fresh = (label: string) => {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  return schema;
};

after(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

const isCode = (code: string) => (error: unknown) =>
  error instanceof OffloadError && error.code === code;

describe('postgres store: migrations', () => {
  it('migrates once when many processes start at the same moment', async () => {
    await requirePostgres();
    const schema = fresh('race');
    const stores: PostgresStore[] = await Promise.all(
      Array.from({ length: 8 }, () =>
        createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 1, listen: false }),
      ),
    );
    try {
      const rows = await adminQuery<{ version: number }>(
        `SELECT version FROM "${schema}".migrations ORDER BY version`,
      );
      assert.deepEqual(
        rows.map((r) => r.version),
        Array.from({ length: LATEST_VERSION }, (_, i) => i + 1),
      );
      const results = await Promise.all(
        stores.map((store, i) =>
          store.jobEnqueue({
            task: 't',
            queue: 'q',
            payload: String(i),
            priority: 0,
            runAt: Date.now(),
            maxAttempts: 1,
            timeoutMs: 0,
            uniqueKey: null,
            idempotencyKey: null,
            callbackUrl: null,
          }),
        ),
      );
      assert.equal(new Set(results.map((r) => r.job.id)).size, 8);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('refuses a schema written by a newer offload', async () => {
    const schema = fresh('newer');
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      listen: false,
    });
    await store.close();
    await adminQuery(
      `INSERT INTO "${schema}".migrations (version, name) VALUES ($1, 'from the future')`,
      [LATEST_VERSION + 1],
    );
    await assert.rejects(
      createPostgresStore({ connectionString: TEST_PG_URL, schema }),
      (error: unknown) => {
        assert.ok(isCode('ERR_STORE_TOO_NEW')(error));
        assert.match((error as Error).message, /upgrade offload/);
        return true;
      },
    );
  });

  it('refuses a schema that holds another application', async () => {
    const schema = fresh('foreign');
    await adminQuery(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".users (id int)`);
    await assert.rejects(
      createPostgresStore({ connectionString: TEST_PG_URL, schema }),
      (error: unknown) => {
        assert.ok(isCode('ERR_STORE_CORRUPT')(error));
        assert.match((error as Error).message, /users/);
        return true;
      },
    );
  });

  it('uses an empty schema an owner created beforehand', async () => {
    const schema = fresh('precreated');
    await adminQuery(`CREATE SCHEMA "${schema}"`);
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      listen: false,
    });
    await store.close();
  });
});
