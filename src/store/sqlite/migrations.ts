import type { Migration } from '../migration.ts';

/**
 * Numbered migrations of the SQLite store. Append only: a released migration is never edited.
 * Applied in order inside one IMMEDIATE transaction, recorded in `offload_migrations`.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, queues and tasks',
    sql: `
      CREATE TABLE offload_jobs (
        id               INTEGER PRIMARY KEY,
        queue            TEXT    NOT NULL,
        task             TEXT    NOT NULL,
        payload          TEXT    NOT NULL,
        state            TEXT    NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
        priority         INTEGER NOT NULL DEFAULT 0,
        run_at           INTEGER NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        max_attempts     INTEGER NOT NULL,
        timeout_ms       INTEGER NOT NULL DEFAULT 0,
        unique_key       TEXT,
        progress         TEXT,
        result           TEXT,
        error            TEXT,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        created_at       INTEGER NOT NULL,
        started_at       INTEGER,
        finished_at      INTEGER
      );
      CREATE INDEX offload_jobs_claim ON offload_jobs (queue, priority DESC, run_at) WHERE state = 'queued';
      CREATE INDEX offload_jobs_lease ON offload_jobs (lease_expires_at) WHERE state = 'running';
      CREATE UNIQUE INDEX offload_jobs_unique ON offload_jobs (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('queued','running');
      CREATE TABLE offload_queues (
        name   TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE offload_tasks (
        name       TEXT PRIMARY KEY,
        queue      TEXT    NOT NULL,
        mode       TEXT    NOT NULL,
        attempts   INTEGER NOT NULL,
        priority   INTEGER NOT NULL,
        timeout_ms INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
