import { z } from 'zod';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { optionSchemas, parseOptions } from '../../core/options.ts';

/** Options of {@link createPostgresStore}; each states its default. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`. Required. The password never appears in messages or logs. */
  connectionString: string;
  /** PostgreSQL schema that holds offload's tables; created if missing. Default `offload`. */
  schema?: string;
  /** Connections in this store's pool (LISTEN uses one more). Default 10. */
  poolSize?: number;
  /**
   * true (default): wake up on LISTEN/NOTIFY, and carry job events between processes. false:
   * poll-only, for connection poolers in transaction mode that cannot LISTEN (see docs/postgres.md).
   */
  listen?: boolean;
  /**
   * With `listen`, how often (ms) to announce `store:changed` anyway, in case a notification was
   * missed. Without `listen`, how often (ms) to look for jobs added by other processes. Default 2 000
   * with `listen`, 200 without.
   */
  pollInterval?: number;
  /** Use named prepared statements (faster). Turn off for poolers that cannot keep them. Default true. */
  preparedStatements?: boolean;
  /**
   * `async` (default): claims commit without waiting for the disk (synchronous_commit off for that
   * statement only). If the PostgreSQL server itself crashes, claims of its last fraction of a
   * second may be forgotten and those jobs run again: at-least-once, as when a lease expires.
   * Enqueues, outcomes and cancels always wait for the disk. `sync`: claims wait for the disk too.
   */
  claimCommit?: 'async' | 'sync';
  /** How long (ms) to wait for a connection before failing. Default 10 000. */
  connectTimeout?: number;
  /** A pino-compatible logger for reconnects and lost connections. Default: pino at level `warn`. */
  logger?: Logger;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

const optionsSchema = z.object({
  connectionString: z.string().min(1, 'must be a postgres:// URL'),
  schema: z
    .string()
    .regex(
      /^[a-z_][a-z0-9_]{0,50}$/,
      'must be 1-51 characters: lower-case letters, digits and _ (starting with a letter or _)',
    )
    .default('offload'),
  poolSize: optionSchemas.positiveInt.default(10),
  listen: z.boolean().default(true),
  pollInterval: optionSchemas.intervalMs.optional(),
  preparedStatements: z.boolean().default(true),
  claimCommit: z.enum(['async', 'sync']).default('async'),
  connectTimeout: optionSchemas.intervalMs.default(10_000),
  logger: z
    .custom<Logger>(
      (value) => typeof (value as Logger)?.warn === 'function',
      'must be a pino-compatible logger',
    )
    .optional(),
  clock: z
    .custom<Clock>(
      (value) => typeof (value as Clock)?.now === 'function',
      'must have a now() method',
    )
    .optional(),
});

export type ParsedPostgresOptions = z.output<typeof optionsSchema> & {
  pollInterval: number;
  target: PostgresTarget;
};

/** Where a connection string points, without its password: safe to log. */
export interface PostgresTarget {
  user: string;
  host: string;
  database: string;
  /** `postgres://user@host:port/database`. */
  label: string;
}

/** Validates the options and applies defaults; refuses a connection string that is not a postgres:// URL. */
export function parsePostgresOptions(options: PostgresStoreOptions): ParsedPostgresOptions {
  const parsed = parseOptions('createPostgresStore', optionsSchema, options);
  return {
    ...parsed,
    pollInterval: parsed.pollInterval ?? (parsed.listen ? 2_000 : 200),
    target: describeTarget(parsed.connectionString),
  };
}

/** Parses a connection string into a password-free description. */
export function describeTarget(connectionString: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw invalidUrl('is not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw invalidUrl(`has the scheme "${url.protocol}"; expected postgres:// or postgresql://`);
  }
  const user =
    decodeURIComponent(url.username) || url.searchParams.get('user') || 'the default user';
  const host = url.host || url.searchParams.get('host') || 'localhost';
  const database =
    decodeURIComponent(url.pathname.slice(1)) ||
    url.searchParams.get('dbname') ||
    'the default database';
  const label = `${url.protocol}//${url.username ? `${url.username}@` : ''}${host}${url.pathname}`;
  return { user, host, database, label };
}

function invalidUrl(problem: string): OffloadError {
  return new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `createPostgresStore: option \`connectionString\` ${problem}; write it as postgres://user:password@host:5432/database`,
    { details: { option: 'connectionString' } },
  );
}
