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
  {
    version: 2,
    name: 'callback urls, webhook deliveries, idempotency keys, settings and API tokens',
    sql: `
      ALTER TABLE offload_jobs ADD COLUMN idempotency_key TEXT;
      ALTER TABLE offload_jobs ADD COLUMN callback_url TEXT;
      ALTER TABLE offload_jobs ADD COLUMN webhook_job_id INTEGER;
      CREATE UNIQUE INDEX offload_jobs_idempotency ON offload_jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
      -- A job with a callback URL that reaches a final state gets its delivery job in the same
      -- transaction, whichever statement ended it (outcome, cancel, lease recovery).
      CREATE TRIGGER offload_jobs_webhook AFTER UPDATE OF state ON offload_jobs
        WHEN NEW.callback_url IS NOT NULL
         AND NEW.state IN ('succeeded','failed','cancelled')
         AND OLD.state NOT IN ('succeeded','failed','cancelled')
      BEGIN
        INSERT INTO offload_jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, created_at)
        VALUES ('offload.webhooks', 'offload.webhook', json_object('jobId', CAST(NEW.id AS TEXT)), 'queued', 0,
                coalesce(NEW.finished_at, NEW.run_at), 8, 60000, coalesce(NEW.finished_at, NEW.run_at));
        UPDATE offload_jobs SET webhook_job_id = last_insert_rowid() WHERE id = NEW.id;
      END;
      CREATE TABLE offload_settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE offload_tokens (
        id           TEXT PRIMARY KEY,
        name         TEXT    NOT NULL,
        scopes       TEXT    NOT NULL,
        hash         TEXT    NOT NULL,
        created_at   INTEGER NOT NULL,
        revoked_at   INTEGER,
        last_used_at INTEGER
      );
    `,
  },
  {
    version: 3,
    name: 'worker registry',
    sql: `
      CREATE TABLE offload_workers (
        id             TEXT PRIMARY KEY,
        host           TEXT    NOT NULL,
        pid            INTEGER NOT NULL,
        modes          TEXT    NOT NULL,
        queues         TEXT    NOT NULL,
        running        INTEGER NOT NULL,
        started_at     INTEGER NOT NULL,
        last_heartbeat INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'placement and output tail of the last run',
    sql: `
      ALTER TABLE offload_jobs ADD COLUMN placement TEXT;
      ALTER TABLE offload_jobs ADD COLUMN output_tail TEXT;
    `,
  },
  {
    version: 5,
    name: 'fencing tokens that survive a retry, failure history',
    sql: `
      -- attempts is reset by a manual retry, so it cannot fence a lease: a run cancelled before the
      -- retry held the same number as the run after it. fence grows with every claim, never reset.
      ALTER TABLE offload_jobs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
      UPDATE offload_jobs SET fence = attempts WHERE state = 'running';
      -- JSON array of the failed attempts, oldest first (the last 20).
      ALTER TABLE offload_jobs ADD COLUMN errors TEXT;
      UPDATE offload_jobs
         SET errors = json_array(json_object('attempt', error ->> 'attempt', 'at', coalesce(finished_at, run_at),
                                             'name', error ->> 'name', 'message', substr(error ->> 'message', 1, 1000),
                                             'code', error ->> 'code'))
       WHERE error IS NOT NULL AND json_valid(error);
    `,
  },
  {
    version: 6,
    name: 'flow control: keys, limits, slots and rate windows',
    sql: `
      -- The flow key a job's queue limits and rotation go by; '' for unkeyed jobs of a limited queue.
      ALTER TABLE offload_jobs ADD COLUMN flow_key TEXT;
      -- 1 while a run of a limited queue holds its counted slot; leaving 'running' gives it back.
      ALTER TABLE offload_jobs ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX offload_jobs_flow ON offload_jobs (queue, flow_key, priority DESC, run_at, id)
        WHERE state = 'queued' AND flow_key IS NOT NULL;
      CREATE INDEX offload_jobs_flow_order ON offload_jobs (queue, flow_key, id)
        WHERE state = 'queued' AND flow_key IS NOT NULL;
      -- One row per limited queue: both layers (JSON), the counters of what holds a slot, the
      -- queue-wide rate window (JSON array of start times), the rotation cursor and the next wake.
      CREATE TABLE offload_limits (
        queue       TEXT PRIMARY KEY,
        declared    TEXT,
        runtime     TEXT,
        running     INTEGER NOT NULL DEFAULT 0,
        starts      TEXT    NOT NULL DEFAULT '[]',
        held_until  INTEGER,
        rotation    TEXT,
        wake_at     INTEGER,
        -- The latest claim's time: a claim that read the clock before it waited for the write lock
        -- counts its starts at this time instead, so windows only move forward.
        claimed_at  INTEGER NOT NULL DEFAULT 0,
        updated_at  INTEGER NOT NULL
      );
      CREATE TABLE offload_flow_keys (
        queue      TEXT    NOT NULL,
        key        TEXT    NOT NULL,
        running    INTEGER NOT NULL DEFAULT 0,
        starts     TEXT    NOT NULL DEFAULT '[]',
        held_until INTEGER,
        PRIMARY KEY (queue, key)
      ) WITHOUT ROWID;
      -- Whatever statement ends or requeues a run that held a slot (an outcome, a cancel, a lease
      -- recovery) gives the slot back in the same transaction.
      CREATE TRIGGER offload_jobs_release_slot AFTER UPDATE OF state ON offload_jobs
        WHEN OLD.slot = 1 AND OLD.state = 'running' AND NEW.state <> 'running'
      BEGIN
        UPDATE offload_limits SET running = running - 1 WHERE queue = OLD.queue;
        UPDATE offload_flow_keys SET running = running - 1 WHERE queue = OLD.queue AND key = OLD.flow_key;
      END;
    `,
  },
  {
    version: 7,
    name: 'end sequence: other processes read which jobs ended since their last look',
    sql: `
      -- Grows by one with every end (succeeded, failed for good, cancelled), in commit order since
      -- SQLite has one writer: a process that sees the file change reads the ends past the last one
      -- it saw (one indexed range) instead of every job it waits for. A job that ends again after a
      -- retry takes a new number. The statements that end jobs set it (queries.ts); this trigger
      -- numbers the ends of any statement that does not.
      ALTER TABLE offload_jobs ADD COLUMN end_seq INTEGER;
      CREATE INDEX offload_jobs_end_seq ON offload_jobs (end_seq) WHERE end_seq IS NOT NULL;
      UPDATE offload_jobs SET end_seq = id WHERE state IN ('succeeded','failed','cancelled');
      CREATE TRIGGER offload_jobs_end_seq AFTER UPDATE OF state ON offload_jobs
        WHEN NEW.state IN ('succeeded','failed','cancelled')
         AND OLD.state NOT IN ('succeeded','failed','cancelled')
         AND NEW.end_seq IS OLD.end_seq
      BEGIN
        UPDATE offload_jobs
           SET end_seq = coalesce((SELECT end_seq FROM offload_jobs WHERE end_seq IS NOT NULL ORDER BY end_seq DESC LIMIT 1), 0) + 1
         WHERE id = NEW.id;
      END;
    `,
  },
  {
    version: 8,
    name: 'bulk actions and the dead-letter view',
    sql: `
      -- One row per bulk action (retry, cancel, delete by filter): its filter, the id cursor its
      -- chunks have reached, the newest job id it may take, counters, and the lease of the process
      -- running its chunks, so any process can report it and a restarted one can resume it.
      CREATE TABLE offload_bulk (
        id               INTEGER PRIMARY KEY,
        action           TEXT    NOT NULL CHECK (action IN ('retry','cancel','delete')),
        filter           TEXT    NOT NULL,
        state            TEXT    NOT NULL CHECK (state IN ('running','done','interrupted')),
        matched          INTEGER NOT NULL,
        done             INTEGER NOT NULL DEFAULT 0,
        skipped          INTEGER NOT NULL DEFAULT 0,
        cursor           INTEGER NOT NULL DEFAULT 0,
        max_id           INTEGER NOT NULL,
        owner            TEXT,
        lease_expires_at INTEGER,
        error            TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        finished_at      INTEGER
      );
      CREATE INDEX offload_jobs_failed ON offload_jobs (task, finished_at) WHERE state = 'failed';
    `,
  },
  {
    version: 9,
    name: 'the index of a key’s oldest job holds only jobs of queues under strict order',
    sql: `
      -- 1 for jobs of a queue under strict order, set at enqueue and when the order changes, kept
      -- through every requeue. Only strict order looks a key's oldest job up, and the other jobs in
      -- that index made every keyed enqueue and claim pay for one more index entry.
      ALTER TABLE offload_jobs ADD COLUMN flow_strict INTEGER NOT NULL DEFAULT 0;
      UPDATE offload_jobs SET flow_strict = 1
       WHERE state IN ('queued','running')
         AND queue IN (SELECT queue FROM offload_limits WHERE coalesce(runtime, declared) ->> 'order' = 'strict');
      DROP INDEX offload_jobs_flow_order;
      CREATE INDEX offload_jobs_flow_order ON offload_jobs (queue, flow_key, id)
        WHERE state = 'queued' AND flow_strict = 1;
    `,
  },
  {
    version: 10,
    name: 'job meta and tags',
    sql: `
      -- meta: JSON text of an object; tags: a JSON array of distinct strings. Both NULL when a job
      -- has none, so untagged jobs cost no write beyond their row.
      ALTER TABLE offload_jobs ADD COLUMN meta TEXT;
      ALTER TABLE offload_jobs ADD COLUMN tags TEXT;
      -- One row per tag of a job, so a filter by tag is one index range instead of a scan of every
      -- job's JSON. The enqueuer fills it, in the insert's transaction and only for jobs with tags
      -- (a trigger on insert would run for every job); triggers empty it when a job is deleted or
      -- emptied (the newest job, see job-edit.ts).
      CREATE TABLE offload_job_tags (
        tag    TEXT    NOT NULL,
        job_id INTEGER NOT NULL,
        PRIMARY KEY (tag, job_id)
      ) WITHOUT ROWID;
      CREATE TRIGGER offload_jobs_tags_delete AFTER DELETE ON offload_jobs
        WHEN OLD.tags IS NOT NULL
      BEGIN
        DELETE FROM offload_job_tags WHERE job_id = OLD.id AND tag IN (SELECT value FROM json_each(OLD.tags));
      END;
      CREATE TRIGGER offload_jobs_tags_clear AFTER UPDATE OF tags ON offload_jobs
        WHEN NEW.tags IS NOT OLD.tags
      BEGIN
        DELETE FROM offload_job_tags WHERE job_id = OLD.id AND tag IN (SELECT value FROM json_each(OLD.tags));
        INSERT OR IGNORE INTO offload_job_tags (tag, job_id) SELECT value, NEW.id FROM json_each(NEW.tags);
      END;
    `,
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
