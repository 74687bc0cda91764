import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test database: `OFFLOAD_TEST_PG_URL`, or the local server's `test` database. */
export const TEST_PG_URL =
  process.env['OFFLOAD_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The test URL with another user (and password, when given) in it. */
export function urlAs(user: string, password?: string): string {
  const url = new URL(TEST_PG_URL);
  url.username = user;
  url.password = password ?? '';
  return url.toString();
}

let reachable: Promise<void> | undefined;

/**
 * Resolves once the test database answers; otherwise rejects with a message that names the URL.
 * PostgreSQL tests fail when the server is missing; they never skip.
 */
export function requirePostgres(): Promise<void> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } catch (error) {
      throw new Error(
        `PostgreSQL is not reachable at ${TEST_PG_URL} (${(error as Error).message}). ` +
          'Start it (pg_ctlcluster 15 main start) or point OFFLOAD_TEST_PG_URL at a server with a database for tests.',
        { cause: error },
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** Runs one statement on a short-lived admin connection to the test database. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  await requirePostgres();
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A schema name no other test uses: `t_<label>_<random>`. */
export function uniqueSchema(label: string): string {
  return `t_${label.replace(/[^a-z0-9_]/g, '_').slice(0, 20)}_${randomBytes(5).toString('hex')}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Ends the server connections of one store, as a restart or a network cut would (found by application_name). */
export async function terminateConnections(schema: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name LIKE $1`,
    [`offload:${schema}:%`],
  );
  return rows[0]?.n ?? 0;
}

/** Where the server's WAL is being written now. */
export async function walInsertPosition(client: pg.Client): Promise<string> {
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))
    .rows[0]!.lsn;
}

/** Whether the WAL is on disk past `lsn`. */
export async function walFlushedPast(client: pg.Client, lsn: string): Promise<boolean> {
  return (
    await client.query<{ past: boolean }>(
      'SELECT pg_current_wal_flush_lsn() > $1::pg_lsn AS past',
      [lsn],
    )
  ).rows[0]!.past;
}
