import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { pendingAfter, type MigrationReport } from '../migration.ts';
import { LATEST_VERSION, migrations } from './migrations.ts';
import { openDatabase } from './open-database.ts';

/**
 * `offload migrate` on SQLite: brings the file to the latest version (creating it if missing), or
 * with `dryRun` only lists what is pending, without creating or changing anything.
 */
export function migrateSqlite(options: {
  path: string;
  dryRun?: boolean;
}): MigrationReport & { label: string } {
  const file = path.resolve(options.path);
  const from = fs.existsSync(file) ? appliedVersion(file) : 0;
  if (options.dryRun || from === LATEST_VERSION)
    return { from, to: from, migrations: pendingAfter(migrations, from), label: file };
  openDatabase(file, 'normal').close();
  return { from, to: LATEST_VERSION, migrations: pendingAfter(migrations, from), label: file };
}

/** The file's schema version, read without writing; refuses what openDatabase would refuse. */
function appliedVersion(file: string): number {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new OffloadError(
      ErrorCodes.STORE_CORRUPT,
      `cannot open ${file} as an offload store: ${(error as Error).message}`,
      { cause: error, details: { file } },
    );
  }
  try {
    const tables = (
      db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
        .all() as Array<{ name: string }>
    ).map((row) => row.name);
    if (!tables.includes('offload_migrations')) {
      if (tables.length === 0) return 0;
      throw new OffloadError(
        ErrorCodes.STORE_CORRUPT,
        `${file} is a SQLite database of another application (tables: ${tables.slice(0, 5).join(', ')}). offload will not write into it: point offload at a new file (--db).`,
        { details: { file, tables } },
      );
    }
    const version =
      (db.prepare('SELECT max(version) AS v FROM offload_migrations').get() as { v: number | null })
        .v ?? 0;
    if (version > LATEST_VERSION) {
      throw new OffloadError(
        ErrorCodes.STORE_TOO_NEW,
        `${file} has schema version ${version}, but this offload knows versions up to ${LATEST_VERSION}. It was written by a newer offload: upgrade offload, or use another file.`,
        { details: { file, version, supported: LATEST_VERSION } },
      );
    }
    return version;
  } catch (error) {
    if (error instanceof OffloadError) throw error;
    throw new OffloadError(
      ErrorCodes.STORE_CORRUPT,
      `cannot read ${file} as an offload store: ${(error as Error).message}`,
      { cause: error, details: { file } },
    );
  } finally {
    db.close();
  }
}
