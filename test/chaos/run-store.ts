import path from 'node:path';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';

export type StoreKind = 'sqlite' | 'postgres';

/** The store of one chaos or soak run, and the environment that points fixture processes at it. */
export interface RunStore {
  store: Store;
  env: Record<string, string>;
  /** The PostgreSQL schema ('' on SQLite). */
  schema: string;
  /** The SQLite file ('' on PostgreSQL). */
  file: string;
  /** Closes the store and drops the schema. */
  close(): Promise<void>;
}

/** A fresh SQLite file in `dir`, or a fresh schema on the test PostgreSQL, named after `label`. */
export async function openRunStore(kind: StoreKind, dir: string, label: string): Promise<RunStore> {
  if (kind === 'postgres') {
    await requirePostgres();
    const schema = uniqueSchema(label);
    const store = await createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 });
    return {
      store,
      schema,
      file: '',
      env: { OFFLOAD_CHAOS_DB: TEST_PG_URL, OFFLOAD_CHAOS_SCHEMA: schema },
      close: async () => (await store.close(), await dropSchema(schema)),
    };
  }
  const file = path.join(dir, `${label}-${Date.now()}.db`);
  const store = createSqliteStore({ path: file });
  return { store, schema: '', file, env: { OFFLOAD_CHAOS_DB: file }, close: () => store.close() };
}
