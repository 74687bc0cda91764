import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { LATEST_VERSION, migrations } from './migrations.ts';

/** `normal`: a power cut may lose the last commits, a process crash loses nothing. `full`: fsync per commit. */
export type SqliteDurability = 'normal' | 'full';

const MARKER_TABLE = 'offload_migrations';

/**
 * Opens (creating if needed) an offload SQLite file: WAL, busy timeout, migrations. Refuses a file
 * that is not SQLite, belongs to another application, or was written by a newer offload.
 */
export function openDatabase(file: string, durability: SqliteDurability): Database.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('temp_store = MEMORY');
    db.pragma('cache_size = -32000');
    refuseDamaged(db, file);
    migrate(db, file);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof OffloadError) throw error;
    throw new OffloadError(
      ErrorCodes.STORE_CORRUPT,
      `cannot open ${file} as an offload store: ${(error as Error).message}. ` +
        'If the file is damaged, restore it from a backup or point offload at a new file (--db).',
      { cause: error, details: { file } },
    );
  }
}

function migrate(db: Database.Database, file: string): void {
  const begin = db.prepare('BEGIN IMMEDIATE');
  begin.run();
  try {
    refuseForeign(db, file);
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${MARKER_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
    );
    const current =
      (db.prepare(`SELECT max(version) AS v FROM ${MARKER_TABLE}`).get() as { v: number | null })
        .v ?? 0;
    if (current > LATEST_VERSION) {
      throw new OffloadError(
        ErrorCodes.STORE_TOO_NEW,
        `${file} has schema version ${current}, but this offload knows versions up to ${LATEST_VERSION}. ` +
          'It was written by a newer offload: upgrade offload, or use another file.',
        { details: { file, version: current, supported: LATEST_VERSION } },
      );
    }
    const record = db.prepare(
      `INSERT INTO ${MARKER_TABLE} (version, name, applied_at) VALUES (?, ?, ?)`,
    );
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

function refuseForeign(db: Database.Database, file: string): void {
  const tables = (
    db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      .all() as Array<{
      name: string;
    }>
  ).map((row) => row.name);
  if (tables.length === 0 || tables.includes(MARKER_TABLE)) return;
  throw new OffloadError(
    ErrorCodes.STORE_CORRUPT,
    `${file} is a SQLite database of another application (tables: ${tables.slice(0, 5).join(', ')}). ` +
      'offload will not write into it: point offload at a new file (--db).',
    { details: { file, tables } },
  );
}

/**
 * Reads every page once (`PRAGMA quick_check`) so a truncated or damaged file is refused at start
 * rather than losing jobs later. Costs about a second per few hundred MB, once per open.
 */
function refuseDamaged(db: Database.Database, file: string): void {
  if (file === ':memory:') return;
  const problems = db.pragma('quick_check(3)', { simple: false }) as Array<{ quick_check: string }>;
  const found = problems.map((row) => row.quick_check).filter((text) => text !== 'ok');
  if (found.length === 0) return;
  throw new OffloadError(
    ErrorCodes.STORE_CORRUPT,
    `${file} is damaged (${found.join('; ')}); offload will not run on it, to avoid losing jobs. ` +
      'Restore it from a backup, or try `sqlite3 <file> ".recover"` into a new file, then point offload at that (--db).',
    { details: { file, problems: found } },
  );
}

/**
 * Turns SQLite's storage failures into offload errors that say what to do: a full disk, a file
 * damaged after it was opened. Anything else is returned as it is.
 */
export function storageError(error: unknown, file: string): unknown {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return error;
  if (code === 'SQLITE_FULL') {
    return new OffloadError(
      ErrorCodes.STORE_FULL,
      `the disk holding ${file} is full: nothing was written. Free space (or move the store) and try again.`,
      {
        cause: error,
        details: { file },
      },
    );
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new OffloadError(
      ErrorCodes.STORE_CORRUPT,
      `${file} is damaged (${(error as Error).message}); restore it from a backup.`,
      { cause: error, details: { file } },
    );
  }
  return error;
}
