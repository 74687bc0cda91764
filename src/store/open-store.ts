import type { Clock } from '../core/clock.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { Store } from './contract.ts';

/** Default location of the embedded store, relative to the working directory. */
export const DEFAULT_DATABASE = './.offload/offload.db';

const POSTGRES_URL = /^postgres(ql)?:\/\//i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Opens the store a `--db` value names: a `postgres://` or `postgresql://` URL means the
 * PostgreSQL store (schema `offload`), a file path the embedded SQLite store; any other URL is
 * refused. Each store is imported only when named, so `--db postgres://…` never loads the native
 * SQLite addon. The CLI and tests use this so every entry point reads `--db` the same way.
 */
export async function openStore(
  spec: string = DEFAULT_DATABASE,
  options: { clock?: Clock } = {},
): Promise<Store> {
  if (storeKind(spec) === 'postgres') {
    const { createPostgresStore } = await import('./postgres/postgres-store.ts');
    return createPostgresStore({ connectionString: spec, ...options });
  }
  const { createSqliteStore } = await import('./sqlite/sqlite-store.ts');
  return createSqliteStore({ path: spec, ...options });
}

/** Which store a `--db` value names; any URL but `postgres://` is refused with ERR_INVALID_OPTION naming the two. */
export function storeKind(spec: string): 'sqlite' | 'postgres' {
  if (POSTGRES_URL.test(spec)) return 'postgres';
  if (!ANY_URL.test(spec)) return 'sqlite';
  const scheme = spec.slice(0, spec.indexOf(':'));
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `--db: "${scheme}://" is not a store offload knows; give a file path (the embedded SQLite store) or a postgres:// URL (PostgreSQL)`,
    { details: { option: 'db', scheme } },
  );
}
