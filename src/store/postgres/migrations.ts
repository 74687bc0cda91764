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
  {
    version: 2,
    name: 'callback urls, webhook deliveries, idempotency keys, settings and API tokens',
    sql: `
      ALTER TABLE {s}.jobs ADD COLUMN idempotency_key text CHECK (octet_length(idempotency_key) BETWEEN 1 AND 1020);
      ALTER TABLE {s}.jobs ADD COLUMN callback_url text;
      ALTER TABLE {s}.jobs ADD COLUMN webhook_job_id bigint;
      CREATE UNIQUE INDEX jobs_idempotency ON {s}.jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
      -- A job with a callback URL that reaches a final state gets its delivery job in the same
      -- transaction, whichever statement ended it (outcome, cancel, lease recovery); its id lands
      -- in the row being updated, so RETURNING sees it.
      CREATE FUNCTION {s}.enqueue_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO {s}.jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, created_at)
        VALUES ('offload.webhooks', 'offload.webhook', json_build_object('jobId', NEW.id::text)::text, 'queued', 0,
                coalesce(NEW.finished_at, NEW.run_at), 8, 60000, coalesce(NEW.finished_at, NEW.run_at))
        RETURNING id INTO NEW.webhook_job_id;
        RETURN NEW;
      END
      $$;
      CREATE TRIGGER jobs_webhook BEFORE UPDATE OF state ON {s}.jobs
        FOR EACH ROW
        WHEN (NEW.callback_url IS NOT NULL
              AND NEW.state IN ('succeeded','failed','cancelled')
              AND OLD.state NOT IN ('succeeded','failed','cancelled'))
        EXECUTE FUNCTION {s}.enqueue_webhook();
      CREATE TABLE {s}.settings (
        key   text PRIMARY KEY,
        value text NOT NULL
      );
      CREATE TABLE {s}.tokens (
        id           text   PRIMARY KEY,
        name         text   NOT NULL,
        scopes       text[] NOT NULL,
        hash         text   NOT NULL,
        created_at   bigint NOT NULL,
        revoked_at   bigint,
        last_used_at bigint
      );
    `,
  },
  {
    version: 3,
    name: 'worker registry',
    sql: `
      CREATE TABLE {s}.workers (
        id             text   PRIMARY KEY,
        host           text   NOT NULL,
        pid            integer NOT NULL,
        modes          text[] NOT NULL,
        queues         text[] NOT NULL,
        running        integer NOT NULL,
        started_at     bigint NOT NULL,
        last_heartbeat bigint NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'placement and output tail of the last run',
    sql: `
      ALTER TABLE {s}.jobs ADD COLUMN placement text;
      ALTER TABLE {s}.jobs ADD COLUMN output_tail text;
    `,
  },
  {
    version: 5,
    name: 'claims through a function with one plan per connection',
    sql: `
      -- Planning the claim took about 0.3 ms of every claim, a third of a one-job claim. Inside
      -- this function it is planned once per connection (force_generic_plan), and with sequential
      -- scans off, so a plan made while the table was small still walks the indexes once it is big.
      -- p_commit is 'off' (claimCommit 'async') or 'on'; it lasts until the claim commits.
      CREATE FUNCTION {s}.claim_jobs(p_worker text, p_queues text[], p_limits integer[], p_now bigint,
                                     p_tasks text[], p_lease_ms bigint, p_commit text)
        RETURNS SETOF {s}.jobs LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET enable_seqscan = off
      AS $$
      BEGIN
        PERFORM set_config('synchronous_commit', p_commit, true);
        RETURN QUERY
          WITH wanted AS (
            SELECT w.name, w.lim FROM unnest(p_queues, p_limits) AS w(name, lim)
             WHERE NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = w.name AND p.paused)),
          picked AS MATERIALIZED (
            SELECT j.id FROM wanted CROSS JOIN LATERAL (
              SELECT jobs.id FROM {s}.jobs
               WHERE jobs.state = 'queued' AND jobs.queue = wanted.name AND jobs.run_at <= p_now
                 AND jobs.task = ANY(p_tasks)
               ORDER BY jobs.priority DESC, jobs.run_at, jobs.id
               LIMIT wanted.lim
               FOR UPDATE SKIP LOCKED) j)
          UPDATE {s}.jobs SET state = 'running', attempts = attempts + 1, lease_owner = p_worker,
                 lease_expires_at = p_now + p_lease_ms, started_at = p_now
           WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
          RETURNING jobs.*;
      END
      $$;
    `,
  },
  {
    version: 6,
    name: 'fencing tokens that survive a retry, failure history, claims ahead kept apart from started runs',
    sql: `
      -- attempts is reset by a manual retry, so it cannot fence a lease: a run cancelled before the
      -- retry held the same number as the run after it. fence grows with every claim, never reset.
      ALTER TABLE {s}.jobs ADD COLUMN fence integer NOT NULL DEFAULT 0;
      UPDATE {s}.jobs SET fence = attempts WHERE state = 'running';
      -- Every failed attempt, oldest first (the last 20), as a JSON array.
      ALTER TABLE {s}.jobs ADD COLUMN errors jsonb;
      UPDATE {s}.jobs SET errors = jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
               'attempt', (error::jsonb ->> 'attempt')::int, 'at', coalesce(finished_at, run_at),
               'name', error::jsonb ->> 'name', 'message', left(error::jsonb ->> 'message', 1000), 'code', error::jsonb ->> 'code')))
       WHERE error IS NOT NULL AND strpos(error, '\\u0000') = 0;
      -- p_starts: how many of each queue's jobs start at once; the rest are leased ahead (claimed)
      -- with no started_at until the worker records them started.
      DROP FUNCTION {s}.claim_jobs(text, text[], integer[], bigint, text[], bigint, text);
      CREATE FUNCTION {s}.claim_jobs(p_worker text, p_queues text[], p_limits integer[], p_starts integer[], p_now bigint,
                                     p_tasks text[], p_lease_ms bigint, p_commit text)
        RETURNS SETOF {s}.jobs LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET enable_seqscan = off
      AS $$
      BEGIN
        PERFORM set_config('synchronous_commit', p_commit, true);
        RETURN QUERY
          WITH wanted AS (
            SELECT w.name, w.lim, w.start FROM unnest(p_queues, p_limits, p_starts) AS w(name, lim, start)
             WHERE NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = w.name AND p.paused)),
          picked AS MATERIALIZED (
            SELECT j.id, j.priority, j.run_at, wanted.name, wanted.start FROM wanted CROSS JOIN LATERAL (
              SELECT jobs.id, jobs.priority, jobs.run_at FROM {s}.jobs
               WHERE jobs.state = 'queued' AND jobs.queue = wanted.name AND jobs.run_at <= p_now
                 AND jobs.task = ANY(p_tasks)
               ORDER BY jobs.priority DESC, jobs.run_at, jobs.id
               LIMIT wanted.lim
               FOR UPDATE SKIP LOCKED) j),
          starting AS (
            SELECT ranked.id FROM (
              SELECT picked.id, picked.start,
                     row_number() OVER (PARTITION BY picked.name ORDER BY picked.priority DESC, picked.run_at, picked.id) AS rank
                FROM picked) ranked
             WHERE ranked.rank <= ranked.start)
          UPDATE {s}.jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = p_worker,
                 lease_expires_at = p_now + p_lease_ms,
                 started_at = CASE WHEN jobs.id = ANY(ARRAY(SELECT starting.id FROM starting)) THEN p_now END
           WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
          RETURNING jobs.*;
      END
      $$;
    `,
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
