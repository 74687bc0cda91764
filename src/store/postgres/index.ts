/**
 * offload/postgres: the store for workers on many machines, one schema of a PostgreSQL database,
 * through `pg`. Loads no SQLite addon.
 */
export {
  createPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from './postgres-store.ts';
