import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
  urlAs,
} from '../helpers/postgres.ts';

const SECRET = 'pw-that-must-not-leak';

/** Asserts an OffloadError with this code whose message matches, and that no password leaks. */
function fails(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assert.ok(
      !`${error.message} ${JSON.stringify(error.details)} ${error.stack}`.includes(SECRET),
      'the password leaked',
    );
    return true;
  };
}

describe('postgres store: bad input at start', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('refuses a connection string that is not a postgres URL', async () => {
    await assert.rejects(
      createPostgresStore({ connectionString: 'localhost:5432/test' }),
      fails('ERR_INVALID_OPTION', /postgres:\/\//),
    );
    await assert.rejects(
      createPostgresStore({ connectionString: `mysql://u:${SECRET}@h/db` }),
      fails('ERR_INVALID_OPTION', /scheme "mysql:"/),
    );
    await assert.rejects(
      createPostgresStore({ connectionString: TEST_PG_URL, schema: 'Bad-Name' }),
      fails('ERR_INVALID_OPTION', /schema/),
    );
    await assert.rejects(
      createPostgresStore({ connectionString: TEST_PG_URL, pollSize: 3 } as never),
      fails('ERR_INVALID_OPTION', /did you mean `poolSize`/),
    );
  });

  it('names the address when nothing listens there', async () => {
    await assert.rejects(
      createPostgresStore({ connectionString: `postgres://me:${SECRET}@127.0.0.1:1/test` }),
      fails('ERR_STORE_CONNECT', /127\.0\.0\.1:1.*ECONNREFUSED.*running/),
    );
  });

  it('names the user when the credentials are refused', async () => {
    await requirePostgres();
    await assert.rejects(
      createPostgresStore({ connectionString: urlAs('no_such_user', SECRET) }),
      fails('ERR_STORE_CONNECT', /user "no_such_user".*check the user and password/),
    );
  });

  it('names the database when it does not exist', async () => {
    const url = new URL(TEST_PG_URL);
    url.pathname = '/no_such_database';
    url.password = SECRET;
    await assert.rejects(
      createPostgresStore({ connectionString: url.toString() }),
      fails('ERR_STORE_CONNECT', /database "no_such_database" does not exist.*createdb/),
    );
  });

  it('says which grant is missing when the user may not create the schema', async () => {
    const role = `offload_noperm_${randomBytes(4).toString('hex')}`;
    const schema = uniqueSchema('noperm');
    await adminQuery(`CREATE ROLE ${role} LOGIN PASSWORD '${SECRET}'`);
    cleanups.push(
      () => adminQuery(`DROP ROLE IF EXISTS ${role}`),
      () => dropSchema(schema),
    );
    await assert.rejects(
      createPostgresStore({ connectionString: urlAs(role, SECRET), schema }),
      fails('ERR_STORE_PERMISSION', new RegExp(`${role}.*${schema}.*GRANT CREATE ON DATABASE`)),
    );
  });

  it('says so when the server is not PostgreSQL', async () => {
    const server = net.createServer((socket) =>
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => server.close());
    const { port } = server.address() as net.AddressInfo;
    await assert.rejects(
      createPostgresStore({
        connectionString: `postgres://me:${SECRET}@127.0.0.1:${port}/test`,
        connectTimeout: 3_000,
      }),
      fails('ERR_STORE_CONNECT', /PostgreSQL/),
    );
  });
});
