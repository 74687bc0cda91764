import path from 'node:path';
import type { Clock } from '../../src/core/clock.ts';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { makeTempDir } from '../helpers/temp.ts';

/**
 * How the contract suite gets stores. Every `open()` of one factory reaches the same data (the
 * same SQLite file, the same PostgreSQL schema) through a new connection, as separate processes would.
 */
export interface StoreFactory {
  name: string;
  open(options?: { clock?: Clock }): Promise<Store>;
  /** Drops the data (file, schema) after the suite. */
  destroy(): Promise<void>;
}

/** Makes a factory over fresh, empty data; suites that run on every store take one of these. */
export type MakeStoreFactory = () => Promise<StoreFactory>;

let counter = 0;

/** A new SQLite file in a temp folder of its own, removed by `destroy()`. */
export async function sqliteFactory(label = 'contract'): Promise<StoreFactory> {
  const { dir, cleanup } = makeTempDir(label);
  const file = path.join(dir, `store-${counter++}.db`);
  return {
    name: 'sqlite',
    open: async ({ clock } = {}) => createSqliteStore({ path: file, clock }),
    destroy: async () => cleanup(),
  };
}

/** A new schema in the test database (named by `schema`), dropped by `destroy()`; rejects when PostgreSQL is not reachable. */
export async function postgresFactory(
  label = 'contract',
): Promise<StoreFactory & { schema: string }> {
  await requirePostgres();
  const schema = uniqueSchema(label);
  return {
    name: 'postgres',
    schema,
    open: async ({ clock } = {}) =>
      createPostgresStore({ connectionString: TEST_PG_URL, schema, clock, poolSize: 4 }),
    destroy: () => dropSchema(schema),
  };
}
