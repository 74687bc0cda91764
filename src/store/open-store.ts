import type { Clock } from '../clock.ts';
import type { Store } from './contract.ts';
import { createPostgresStore } from './postgres/postgres-store.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';

/** Default location of the embedded store, relative to the working directory. */
export const DEFAULT_DATABASE = './.offload/offload.db';

/**
 * Opens the store a `--db` value names: a `postgres://` or `postgresql://` URL means the
 * PostgreSQL store (schema `offload`), anything else a file path of the embedded SQLite store.
 * The CLI and tests use this so every entry point reads `--db` the same way.
 */
export async function openStore(spec: string = DEFAULT_DATABASE, options: { clock?: Clock } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(spec)) return createPostgresStore({ connectionString: spec, ...options });
  return createSqliteStore({ path: spec, ...options });
}
