import pg from 'pg';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { pendingAfter, type MigrationReport } from '../migration.ts';
import { startError } from './connection-errors.ts';
import { LATEST_VERSION, migrations } from './migrations.ts';
import { parsePostgresOptions } from './postgres-options.ts';

/** Oldest PostgreSQL the store supports (SKIP LOCKED, identity columns, pg_notify in CTEs). */
const MIN_SERVER_VERSION = 120000;
/** First key of the two-key advisory lock that serialises migrations; the second is the schema's hash. */
const LOCK_NAMESPACE = 0x0ff10ad;

/**
 * Brings `schema` to the latest version. Many processes may call this at once: the first takes an
 * advisory lock and migrates, the others wait for it and find nothing left to do. Refuses a server
 * that is not PostgreSQL 12+, a schema that belongs to something else, and a newer schema. With
 * `dryRun`, changes nothing and reports the pending migrations.
 */
export async function migrate(
  client: pg.ClientBase,
  schema: string,
  label: string,
  { dryRun = false } = {},
): Promise<MigrationReport> {
  await checkServer(client, label);
  const found = await currentVersion(client, schema, label);
  if (found === LATEST_VERSION || dryRun)
    return { from: found, to: found, migrations: pendingAfter(migrations, found) };
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, schema]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quote(schema)}`);
    const current = await currentVersion(client, schema, label);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quote(schema)}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const pending = pendingAfter(migrations, current);
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql.replaceAll('{s}', quote(schema)));
      await client.query(
        `INSERT INTO ${quote(schema)}.migrations (version, name) VALUES ($1, $2)`,
        [migration.version, migration.name],
      );
    }
    await client.query('COMMIT');
    return { from: current, to: LATEST_VERSION, migrations: pending };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * `offload migrate` on PostgreSQL: connects once, migrates `schema` (default `offload`) under the
 * advisory lock, or with `dryRun` only lists what is pending. Errors name what to fix, as at store start.
 */
export async function migratePostgres(options: {
  connectionString: string;
  schema?: string;
  dryRun?: boolean;
}): Promise<MigrationReport & { schema: string; label: string }> {
  const parsed = parsePostgresOptions({
    connectionString: options.connectionString,
    schema: options.schema,
  });
  const client = new pg.Client({
    connectionString: parsed.connectionString,
    connectionTimeoutMillis: parsed.connectTimeout,
    application_name: `offload:${parsed.schema}:migrate`,
  });
  client.on('error', () => undefined); // a cut connection fails the running statement, which reports it
  try {
    await client.connect();
    const report = await migrate(client, parsed.schema, parsed.target.label, {
      dryRun: options.dryRun,
    });
    return { ...report, schema: parsed.schema, label: parsed.target.label };
  } catch (error) {
    throw startError(error, parsed.target, parsed.schema);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The applied version, 0 for a missing or empty schema; throws for a foreign or newer one. */
async function currentVersion(
  client: pg.ClientBase,
  schema: string,
  label: string,
): Promise<number> {
  const { rows } = await client.query<{ has_marker: boolean; tables: string[] }>(
    `SELECT to_regclass($1) IS NOT NULL AS has_marker,
            coalesce((SELECT array_agg(tablename::text) FROM pg_tables WHERE schemaname = $2), '{}') AS tables`,
    [`${quote(schema)}.migrations`, schema],
  );
  const { has_marker: hasMarker, tables } = rows[0]!;
  if (!hasMarker) {
    if (tables.length === 0) return 0;
    throw new OffloadError(
      ErrorCodes.STORE_CORRUPT,
      `schema "${schema}" in ${label} holds tables of another application (${tables.slice(0, 5).join(', ')}); ` +
        'offload will not write into it: choose another `schema`',
      { details: { schema, tables } },
    );
  }
  const version =
    (
      await client.query<{ v: number | null }>(
        `SELECT max(version) AS v FROM ${quote(schema)}.migrations`,
      )
    ).rows[0]!.v ?? 0;
  if (version > LATEST_VERSION) {
    throw new OffloadError(
      ErrorCodes.STORE_TOO_NEW,
      `schema "${schema}" in ${label} has version ${version}, but this offload knows versions up to ${LATEST_VERSION}. ` +
        'It was written by a newer offload: upgrade offload, or use another `schema`.',
      { details: { schema, version, supported: LATEST_VERSION } },
    );
  }
  return version;
}

async function checkServer(client: pg.ClientBase, label: string): Promise<void> {
  let version: number;
  try {
    const { rows } = await client.query<{ v: string }>(
      `SELECT current_setting('server_version_num') AS v`,
    );
    version = Number(rows[0]!.v);
  } catch (error) {
    throw new OffloadError(
      ErrorCodes.STORE_CONNECT,
      `${label} answered, but not as PostgreSQL does: point offload at a PostgreSQL 12+ server`,
      {
        cause: error,
      },
    );
  }
  if (!(version >= MIN_SERVER_VERSION)) {
    throw new OffloadError(
      ErrorCodes.STORE_CONNECT,
      `${label} runs server version ${version}; offload needs PostgreSQL 12 or newer`,
      { details: { version } },
    );
  }
}

/** Quotes an identifier (schema names are validated to [a-z0-9_], so this is belt and braces). */
export function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
