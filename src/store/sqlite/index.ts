/**
 * offload/sqlite: the embedded store, one SQLite file shared by the processes of one machine (the
 * default, no set-up). Loads the native better-sqlite3 addon, and nothing else of offload's stores.
 */
export { createSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
