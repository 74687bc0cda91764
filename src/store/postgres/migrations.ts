import type { Migration } from '../migration.ts';

/**
 * Numbered migrations of the PostgreSQL store. Append only: a released migration is never edited.
 * `{s}` stands for the store's quoted schema name. Applied in order, in one transaction, under an
 * advisory lock, and recorded in `{s}.migrations` (see migrate.ts).
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, queues and tasks',
    sql: `
      CREATE TABLE {s}.jobs (
        id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue            text    NOT NULL CHECK (octet_length(queue) BETWEEN 1 AND 200),
        task             text    NOT NULL CHECK (octet_length(task) BETWEEN 1 AND 200),
        payload          text    NOT NULL,
        state            text    NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
        priority         integer NOT NULL DEFAULT 0,
        run_at           bigint  NOT NULL,
        attempts         integer NOT NULL DEFAULT 0,
        max_attempts     integer NOT NULL,
        timeout_ms       integer NOT NULL DEFAULT 0,
        unique_key       text,
        progress         text,
        result           text,
        error            text,
        lease_owner      text,
        lease_expires_at bigint,
        created_at       bigint  NOT NULL,
        started_at       bigint,
        finished_at      bigint
      ) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
      CREATE INDEX jobs_claim ON {s}.jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
      CREATE INDEX jobs_run_at ON {s}.jobs (run_at) WHERE state = 'queued';
      CREATE INDEX jobs_lease ON {s}.jobs (lease_expires_at) WHERE state = 'running';
      CREATE UNIQUE INDEX jobs_unique ON {s}.jobs (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('queued','running');
      CREATE TABLE {s}.queues (
        name   text    PRIMARY KEY,
        paused boolean NOT NULL DEFAULT false
      );
      CREATE TABLE {s}.tasks (
        name       text    PRIMARY KEY,
        queue      text    NOT NULL,
        mode       text    NOT NULL,
        attempts   integer NOT NULL,
        priority   integer NOT NULL,
        timeout_ms integer NOT NULL,
        updated_at bigint  NOT NULL
      );
    `,
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
