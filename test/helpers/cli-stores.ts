import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
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

/** What a run of the built CLI printed, and its exit code (0 when it succeeded). */
export type CliOutput = { code?: number; stdout: string; stderr: string };

const execFileAsync = promisify(execFile);

/** Runs the built CLI (`dist/cli/main.js`) with `--db db` and `args`; never rejects on a failing exit. */
export function runCli(db: string, ...args: string[]): Promise<CliOutput> {
  return execFileAsync(process.execPath, [
    path.resolve('dist/cli/main.js'),
    '--db',
    db,
    ...args,
  ]).then(
    (output) => ({ code: 0, ...output }),
    (error: CliOutput) => error,
  );
}
