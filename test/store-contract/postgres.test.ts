import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { storeContract } from './contract.ts';

storeContract('postgres', async () => {
  await requirePostgres();
  const schema = uniqueSchema('contract');
  return {
    name: 'postgres',
    open: async ({ clock } = {}) => createPostgresStore({ connectionString: TEST_PG_URL, schema, clock, poolSize: 4 }),
    destroy: () => dropSchema(schema),
  };
});
