import path from 'node:path';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { StoreFactory } from '../store-contract/factory.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from './postgres.ts';
import { makeTempDir } from './temp.ts';

/** A store factory that a worker in another process can reach too: `env` is what test/fixtures/worker-process.ts reads. */
export interface TestStoreFactory extends StoreFactory {
  env: Record<string, string>;
}

/**
 * Both stores, for worker tests that must hold on each: a fresh SQLite file or a fresh PostgreSQL
 * schema per `make()`. The PostgreSQL one fails loudly when the server is missing.
 */
export const testStores: ReadonlyArray<{
  name: string;
  make(label: string): Promise<TestStoreFactory>;
}> = [
  {
    name: 'sqlite',
    async make(label) {
      const { dir, cleanup } = makeTempDir(label);
      const file = path.join(dir, 'jobs.db');
      return {
        name: 'sqlite',
        env: { OFFLOAD_TEST_DB: file },
        open: async ({ clock } = {}) => createSqliteStore({ path: file, clock }),
        destroy: async () => cleanup(),
      };
    },
  },
  {
    name: 'postgres',
    async make(label) {
      await requirePostgres();
      const schema = uniqueSchema(label);
      return {
        name: 'postgres',
        env: { OFFLOAD_TEST_DB: TEST_PG_URL, OFFLOAD_TEST_PG_SCHEMA: schema },
        open: async ({ clock } = {}) =>
          createPostgresStore({ connectionString: TEST_PG_URL, schema, clock, poolSize: 4 }),
        destroy: () => dropSchema(schema),
      };
    },
  },
];
