import path from 'node:path';
import { adminQuery, requirePostgres, TEST_PG_URL, uniqueSchema } from './postgres.ts';
import { makeTempDir } from './temp.ts';

/** A store the built CLI is pointed at with `--db`, made fresh for one suite. */
export interface CliStore {
  name: 'sqlite' | 'postgres';
  setUp(): Promise<{ db: string; tearDown(): Promise<void> }>;
}

/**
 * Both stores for CLI tests: a SQLite file in a temp folder, and a PostgreSQL database of its own
 * (the CLI opens a postgres:// URL with the schema `offload`, so a schema per test would not do).
 * `label` names the folder and the database.
 */
export function cliStores(label: string): CliStore[] {
  return [
    {
      name: 'sqlite',
      setUp: async () => {
        const temp = makeTempDir(label);
        return { db: path.join(temp.dir, 'jobs.db'), tearDown: async () => temp.cleanup() };
      },
    },
    {
      name: 'postgres',
      setUp: async () => {
        await requirePostgres();
        const database = `offload_${uniqueSchema(label.replace(/\W/g, '_')).slice(2)}`;
        await adminQuery(`CREATE DATABASE ${database}`);
        const url = new URL(TEST_PG_URL);
        url.pathname = `/${database}`;
        return {
          db: url.toString(),
          tearDown: () =>
            adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).then(() => undefined),
        };
      },
    },
  ];
}
