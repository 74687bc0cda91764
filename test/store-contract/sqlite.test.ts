import path from 'node:path';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { storeContract } from './contract.ts';

let counter = 0;

storeContract('sqlite', async () => {
  const { dir, cleanup } = makeTempDir('contract');
  const file = path.join(dir, `store-${counter++}.db`);
  return {
    name: 'sqlite',
    open: async ({ clock } = {}) => createSqliteStore({ path: file, clock }),
    destroy: async () => cleanup(),
  };
});
