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
  {
    version: 7,
    name: 'flow control: keys, limits, slots and rate windows',
    sql: `
      -- The flow key a job's queue limits and rotation go by; '' for unkeyed jobs of a limited queue.
      -- "C" collation: the rotation walks keys in byte order, the same on every server.
      ALTER TABLE {s}.jobs ADD COLUMN flow_key text COLLATE "C";
      -- True while a run of a limited queue holds its counted slot; leaving 'running' gives it back.
      ALTER TABLE {s}.jobs ADD COLUMN slot boolean NOT NULL DEFAULT false;
      CREATE INDEX jobs_flow ON {s}.jobs (queue, flow_key, priority DESC, run_at, id)
        WHERE state = 'queued' AND flow_key IS NOT NULL;
      CREATE INDEX jobs_flow_order ON {s}.jobs (queue, flow_key, id)
        WHERE state = 'queued' AND flow_key IS NOT NULL;
      CREATE TABLE {s}.limits (
        queue      text    PRIMARY KEY,
        declared   jsonb,
        runtime    jsonb,
        running    integer NOT NULL DEFAULT 0,
        starts     bigint[] NOT NULL DEFAULT '{}',
        held_until bigint,
        rotation   text COLLATE "C",
        wake_at    bigint,
        -- The latest claim's time: a claim that read the clock before it waited for this row
        -- counts its starts at this time instead, so windows only move forward.
        claimed_at bigint  NOT NULL DEFAULT 0,
        updated_at bigint  NOT NULL
      );
      CREATE TABLE {s}.flow_keys (
        queue      text    NOT NULL,
        key        text    COLLATE "C" NOT NULL,
        running    integer NOT NULL DEFAULT 0,
        starts     bigint[] NOT NULL DEFAULT '{}',
        held_until bigint,
        PRIMARY KEY (queue, key)
      );
      -- Whatever statement ends or requeues a run that held a slot (an outcome, a cancel, a lease
      -- recovery) gives the slot back in the same transaction, as a row here; the next claim of the
      -- queue takes the rows that committed off the counters. Outcomes thus never wait for a claim
      -- (or a claim for an outcome) on a counter row, and a slot is free once its release commits.
      -- The WHEN clause keeps every other update free of the function call.
      CREATE TABLE {s}.flow_releases (
        queue text NOT NULL,
        key   text COLLATE "C" NOT NULL
      );
      CREATE FUNCTION {s}.release_slot() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO {s}.flow_releases (queue, key) VALUES (OLD.queue, OLD.flow_key);
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER jobs_release_slot AFTER UPDATE OF state ON {s}.jobs FOR EACH ROW
        WHEN (OLD.slot AND OLD.state = 'running' AND NEW.state <> 'running')
        EXECUTE FUNCTION {s}.release_slot();

      -- Sets one layer of a queue's limits. Claims hold the same advisory lock shared, so none is
      -- in flight while a queue becomes limited (or stops being) and its counters start from what runs.
      CREATE FUNCTION {s}.set_limits(p_queue text, p_layer text, p_limits jsonb, p_now bigint)
        RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        l {s}.limits%ROWTYPE;
        v_declared jsonb;
        v_runtime jsonb;
        v_before boolean;
        v_after boolean;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('offload.limits:{s}'));
        SELECT * INTO l FROM {s}.limits WHERE queue = p_queue FOR UPDATE;
        v_before := FOUND AND coalesce(l.runtime, l.declared, '{}') <> '{}';
        v_declared := CASE WHEN p_layer = 'declared' THEN p_limits ELSE l.declared END;
        v_runtime := CASE WHEN p_layer = 'runtime' THEN p_limits ELSE l.runtime END;
        v_after := coalesce(v_runtime, v_declared, '{}') <> '{}';
        IF v_declared IS NULL AND v_runtime IS NULL THEN
          DELETE FROM {s}.limits WHERE queue = p_queue;
        ELSE
          INSERT INTO {s}.limits (queue, declared, runtime, updated_at) VALUES (p_queue, v_declared, v_runtime, p_now)
          ON CONFLICT (queue) DO UPDATE SET declared = excluded.declared, runtime = excluded.runtime, updated_at = excluded.updated_at;
        END IF;
        IF v_after <> v_before THEN
          DELETE FROM {s}.flow_releases WHERE queue = p_queue;
        END IF;
        IF v_after AND NOT v_before THEN
          UPDATE {s}.jobs SET flow_key = '' WHERE queue = p_queue AND state = 'queued' AND flow_key IS NULL;
          UPDATE {s}.jobs SET slot = true, flow_key = coalesce(flow_key, '') WHERE queue = p_queue AND state = 'running';
          INSERT INTO {s}.flow_keys (queue, key, running)
          SELECT queue, flow_key, count(*) FROM {s}.jobs WHERE queue = p_queue AND state = 'running' GROUP BY queue, flow_key
          ON CONFLICT (queue, key) DO UPDATE SET running = excluded.running;
          UPDATE {s}.limits SET running = (SELECT count(*) FROM {s}.jobs WHERE queue = p_queue AND state = 'running')
           WHERE queue = p_queue;
        ELSIF v_before AND NOT v_after THEN
          UPDATE {s}.jobs SET slot = false WHERE queue = p_queue AND slot;
          DELETE FROM {s}.flow_keys WHERE queue = p_queue;
          UPDATE {s}.limits SET running = 0 WHERE queue = p_queue;
        END IF;
      END
      $$;

      -- A rate window (start times, oldest first) after n more starts at p_now, keeping the newest p_keep.
      CREATE FUNCTION {s}.window_after(p_window bigint[], p_n integer, p_now bigint, p_keep integer)
        RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
        SELECT coalesce(array_agg(t ORDER BY t), '{}') FROM (
          SELECT t FROM unnest(coalesce(p_window, '{}') || array_fill(p_now, ARRAY[p_n])) AS t ORDER BY t DESC LIMIT p_keep) AS w
      $$;

      -- The claim of one limited queue: within the queue's concurrency and rate window, rotating
      -- over its keys in byte order from where the last claim stopped (the rotation), each key
      -- within its own limits; under strict order a key starts only its oldest job, once due and
      -- once nothing of it runs. Claims of one queue serialise on its limits row, which is what
      -- makes the counters exact; a claim looks at a bounded number of keys.
      CREATE FUNCTION {s}.claim_flow(p_worker text, p_queue text, p_limit integer, p_start integer, p_clock bigint,
                                     p_tasks text[], p_lease_ms bigint)
        RETURNS SETOF {s}.jobs LANGUAGE plpgsql AS $$
      DECLARE
        l {s}.limits%ROWTYPE;
        lim jsonb;
        budget integer;
        taken integer := 0;
        n integer;
        live bigint[];
        klive bigint[];
        wake bigint;
        k text COLLATE "C";
        v_rotation text COLLATE "C";
        v_last text COLLATE "C";
        wrapped boolean;
        visited integer := 0;
        most integer;
        k_running integer;
        k_starts bigint[];
        k_held bigint;
        free integer;
        klimit integer;
        v_strict boolean;
        krate_limit integer;
        krate_per bigint;
        head record;
        p_now bigint;
        v_ids bigint[];
        v_start integer;
        v_keys text[] := '{}';
        v_counts integer[] := '{}';
        v_released integer;
      BEGIN
        SELECT * INTO l FROM {s}.limits WHERE queue = p_queue FOR UPDATE;
        IF NOT FOUND THEN RETURN; END IF;
        -- The slots given back since the last claim (flow_releases) come off the counters first.
        WITH gone AS (DELETE FROM {s}.flow_releases WHERE queue = p_queue RETURNING key),
        counted AS (SELECT gone.key, count(*)::int AS n FROM gone GROUP BY gone.key),
        keys_done AS (
          UPDATE {s}.flow_keys f SET running = f.running - counted.n FROM counted
           WHERE f.queue = p_queue AND f.key = counted.key)
        SELECT coalesce(sum(counted.n), 0) INTO v_released FROM counted;
        IF v_released > 0 THEN
          UPDATE {s}.limits SET running = running - v_released WHERE queue = p_queue;
          l.running := l.running - v_released;
        END IF;
        p_now := greatest(p_clock, l.claimed_at);
        lim := coalesce(l.runtime, l.declared, '{}');
        IF l.held_until > p_now THEN RETURN; END IF;
        -- A wake that an earlier claim set for a key this one may not visit still stands.
        wake := CASE WHEN l.wake_at > p_now THEN l.wake_at END;
        -- Jobs claimed ahead hold their slots like running ones, but a start counted in a rate
        -- window must be a start: a rate-limited queue claims nothing ahead.
        budget := CASE WHEN lim ? 'rate' OR lim ? 'keyRate' THEN least(p_limit, p_start) ELSE p_limit END;
        IF lim ? 'concurrency' THEN budget := least(budget, (lim->>'concurrency')::int - l.running); END IF;
        IF lim ? 'rate' THEN
          live := ARRAY(SELECT t FROM unnest(l.starts) AS t WHERE t > p_now - (lim->'rate'->>'per')::bigint ORDER BY t);
          budget := least(budget, (lim->'rate'->>'limit')::int - cardinality(live));
          IF cardinality(live) >= (lim->'rate'->>'limit')::int THEN
            wake := least(wake, live[cardinality(live) - (lim->'rate'->>'limit')::int + 1] + (lim->'rate'->>'per')::bigint);
          END IF;
        END IF;
        IF budget <= 0 THEN
          UPDATE {s}.limits SET wake_at = wake WHERE queue = p_queue;
          RETURN;
        END IF;
        v_strict := coalesce(lim->>'order' = 'strict', false);
        krate_limit := (lim->'keyRate'->>'limit')::int;
        krate_per := (lim->'keyRate'->>'per')::bigint;
        most := greatest(64, 4 * budget);
        v_rotation := l.rotation;
        v_last := l.rotation;
        IF NOT v_strict AND krate_limit IS NULL THEN
          -- The common case, set-based: the keys in rotation order (a skip scan from the rotation,
          -- wrapping once), each with its free slots; their due jobs taken round-robin (every
          -- key's first job, then every key's second…) up to the budget.
          v_keys := ARRAY(
            WITH RECURSIVE r(k, pos) AS (
              SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                         AND (v_rotation IS NULL OR flow_key > v_rotation) ORDER BY flow_key LIMIT 1), 1
              UNION ALL
              SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                         AND flow_key > r.k ORDER BY flow_key LIMIT 1), r.pos + 1
                FROM r WHERE r.k IS NOT NULL AND r.pos < most)
            SELECT r.k FROM r WHERE r.k IS NOT NULL ORDER BY r.pos);
          IF v_rotation IS NOT NULL AND cardinality(v_keys) < most THEN
            v_keys := v_keys || ARRAY(
              WITH RECURSIVE r(k, pos) AS (
                SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                           ORDER BY flow_key LIMIT 1), 1
                UNION ALL
                SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                           AND flow_key > r.k ORDER BY flow_key LIMIT 1), r.pos + 1
                  FROM r WHERE r.k IS NOT NULL AND r.k < v_rotation AND r.pos < most - cardinality(v_keys))
              SELECT r.k FROM r WHERE r.k IS NOT NULL AND r.k <= v_rotation ORDER BY r.pos);
          END IF;
          IF cardinality(v_keys) = 0 THEN
            UPDATE {s}.limits SET wake_at = wake, claimed_at = p_now WHERE queue = p_queue;
            RETURN;
          END IF;
          SELECT least(wake, min(f.held_until) FILTER (WHERE f.held_until > p_now)) INTO wake
            FROM {s}.flow_keys f WHERE f.queue = p_queue AND f.key = ANY(v_keys);
          WITH cand AS (
            SELECT c.k, c.ord,
                   least(budget, ceil(budget * 2.0 / cardinality(v_keys))::int + 1,
                         CASE WHEN c.k = '' THEN budget
                              ELSE coalesce((lim->'keyOverrides'->>c.k)::int, (lim->>'keyConcurrency')::int) - coalesce(f.running, 0) END) AS free
              FROM unnest(v_keys) WITH ORDINALITY AS c(k, ord)
              LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = c.k
             WHERE coalesce(f.held_until, 0) <= p_now),
          picked AS MATERIALIZED (
            SELECT j.id, j.priority, j.run_at, cand.k, cand.ord FROM cand CROSS JOIN LATERAL (
              SELECT jobs.id, jobs.priority, jobs.run_at FROM {s}.jobs
               WHERE jobs.state = 'queued' AND jobs.flow_key IS NOT NULL AND jobs.queue = p_queue AND jobs.flow_key = cand.k
                 AND jobs.run_at <= p_now AND jobs.task = ANY(p_tasks)
               ORDER BY jobs.flow_key, jobs.priority DESC, jobs.run_at, jobs.id
               LIMIT cand.free FOR UPDATE SKIP LOCKED) j
             WHERE cand.free > 0),
          chosen AS MATERIALIZED (
            SELECT x.id, x.k, x.ord, x.seq FROM (
              SELECT p.id, p.k, p.ord, row_number() OVER (ORDER BY p.turn, p.ord) AS seq FROM (
                SELECT picked.*, row_number() OVER (PARTITION BY picked.k ORDER BY picked.priority DESC, picked.run_at, picked.id) AS turn
                  FROM picked) p) x
             WHERE x.seq <= budget),
          keyed AS (
            INSERT INTO {s}.flow_keys (queue, key, running)
            SELECT p_queue, chosen.k, count(*) FROM chosen GROUP BY chosen.k
            ON CONFLICT (queue, key) DO UPDATE SET running = flow_keys.running + excluded.running),
          leased AS (
            UPDATE {s}.jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = p_worker,
                   lease_expires_at = p_now + p_lease_ms, slot = true,
                   started_at = CASE WHEN chosen.seq <= p_start THEN p_now END
              FROM chosen WHERE jobs.id = chosen.id
            RETURNING jobs.id)
          SELECT ARRAY(SELECT leased.id FROM leased), (SELECT chosen.k FROM chosen ORDER BY chosen.ord DESC LIMIT 1)
            INTO v_ids, k;
          taken := cardinality(v_ids);
          v_last := coalesce(k, v_last);
          RETURN QUERY SELECT * FROM {s}.jobs WHERE id = ANY(v_ids);
        ELSE
        IF v_rotation IS NULL THEN
          SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
          wrapped := true;
        ELSE
          SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key > v_rotation ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
          wrapped := false;
        END IF;
        LOOP
          EXIT WHEN visited >= most OR taken >= budget;
          IF k IS NULL THEN
            EXIT WHEN wrapped;
            wrapped := true;
            SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
            EXIT WHEN k IS NULL;
          END IF;
          EXIT WHEN wrapped AND v_rotation IS NOT NULL AND k > v_rotation;
          visited := visited + 1;
          free := budget - taken;
          IF k_held > p_now THEN
            wake := least(wake, k_held);
            free := 0;
          END IF;
          IF k <> '' THEN
            klimit := CASE WHEN v_strict THEN 1 ELSE coalesce((lim->'keyOverrides'->>k)::int, (lim->>'keyConcurrency')::int) END;
            IF klimit IS NOT NULL THEN free := least(free, klimit - k_running); END IF;
            IF krate_limit IS NOT NULL THEN
              klive := ARRAY(SELECT t FROM unnest(k_starts) AS t WHERE t > p_now - krate_per ORDER BY t);
              IF cardinality(klive) >= krate_limit THEN
                wake := least(wake, klive[cardinality(klive) - krate_limit + 1] + krate_per);
              END IF;
              free := least(free, krate_limit - cardinality(klive));
            END IF;
          END IF;
          IF free > 0 THEN
            IF v_strict AND k <> '' THEN
              SELECT id, run_at, task INTO head FROM {s}.jobs
               WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key = k
               ORDER BY flow_key, id LIMIT 1 FOR UPDATE;
              v_ids := CASE WHEN FOUND AND head.run_at <= p_now AND head.task = ANY(p_tasks) THEN ARRAY[head.id] ELSE '{}' END;
            ELSE
              -- ORDER BY flow_key first, though it is fixed, so the plan walks jobs_flow.
              v_ids := ARRAY(
                SELECT id FROM {s}.jobs
                 WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key = k AND run_at <= p_now
                   AND task = ANY(p_tasks)
                 ORDER BY flow_key, priority DESC, run_at, id LIMIT free FOR UPDATE SKIP LOCKED);
            END IF;
            n := cardinality(v_ids);
            IF n > 0 THEN
              -- The rows are locked and queued; the first p_start of the claim start now, the rest are claimed ahead.
              v_start := greatest(0, least(n, p_start - taken));
              RETURN QUERY UPDATE {s}.jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = p_worker,
                     lease_expires_at = p_now + p_lease_ms, slot = true,
                     started_at = CASE WHEN array_position(v_ids, id) <= v_start THEN p_now END
               WHERE id = ANY(v_ids)
              RETURNING *;
            END IF;
            IF n > 0 THEN
              taken := taken + n;
              v_last := k;
              IF krate_limit IS NOT NULL AND k <> '' THEN
                klive := {s}.window_after(klive, n, p_now, krate_limit);
                -- A window these starts filled wakes the worker when its oldest start leaves it.
                IF cardinality(klive) >= krate_limit THEN
                  wake := least(wake, klive[cardinality(klive) - krate_limit + 1] + krate_per);
                END IF;
                INSERT INTO {s}.flow_keys (queue, key, running, starts) VALUES (p_queue, k, n, klive)
                ON CONFLICT (queue, key) DO UPDATE SET running = flow_keys.running + excluded.running, starts = excluded.starts;
              ELSE
                v_keys := v_keys || k::text;
                v_counts := v_counts || n;
              END IF;
            END IF;
          END IF;
          EXIT WHEN wrapped AND k = v_rotation;
          SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key > k ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
        END LOOP;
        INSERT INTO {s}.flow_keys (queue, key, running)
        SELECT p_queue, t.key, t.n FROM unnest(v_keys, v_counts) AS t(key, n)
        ON CONFLICT (queue, key) DO UPDATE SET running = flow_keys.running + excluded.running;
        END IF;
        IF lim ? 'rate' THEN
          live := {s}.window_after(live, taken, p_now, (lim->'rate'->>'limit')::int);
          IF cardinality(live) >= (lim->'rate'->>'limit')::int THEN
            wake := least(wake, live[cardinality(live) - (lim->'rate'->>'limit')::int + 1] + (lim->'rate'->>'per')::bigint);
          END IF;
        END IF;
        UPDATE {s}.limits SET running = running + taken, rotation = v_last, wake_at = wake, starts = coalesce(live, '{}'),
               claimed_at = p_now
         WHERE queue = p_queue;
      END
      $$;

      -- Limited queues go through claim_flow; the others keep the one set-based statement.
      CREATE OR REPLACE FUNCTION {s}.claim_jobs(p_worker text, p_queues text[], p_limits integer[], p_starts integer[], p_now bigint,
                                     p_tasks text[], p_lease_ms bigint, p_commit text)
        RETURNS SETOF {s}.jobs LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET enable_seqscan = off
        -- enable_seqscan = off prices a scan of the small flow tables so high that the JIT would
        -- compile every claim (some 200 ms).
        SET jit = off
      AS $$
      DECLARE
        limited text[];
        q record;
      BEGIN
        PERFORM set_config('synchronous_commit', p_commit, true);
        PERFORM pg_advisory_xact_lock_shared(hashtext('offload.limits:{s}'));
        limited := ARRAY(SELECT queue FROM {s}.limits WHERE queue = ANY(p_queues) AND coalesce(runtime, declared, '{}') <> '{}');
        RETURN QUERY
          WITH wanted AS (
            SELECT w.name, w.lim, w.start FROM unnest(p_queues, p_limits, p_starts) AS w(name, lim, start)
             WHERE NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = w.name AND p.paused)
               AND NOT w.name = ANY(limited)),
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
                 lease_expires_at = p_now + p_lease_ms, slot = false,
                 started_at = CASE WHEN jobs.id = ANY(ARRAY(SELECT starting.id FROM starting)) THEN p_now END
           WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
          RETURNING jobs.*;
        IF cardinality(limited) = 0 THEN RETURN; END IF;
        FOR q IN SELECT w.name, w.lim, least(w.start, w.lim) AS start FROM unnest(p_queues, p_limits, p_starts) AS w(name, lim, start)
                  WHERE w.name = ANY(limited) AND w.lim > 0
                    AND NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = w.name AND p.paused)
                  ORDER BY w.name LOOP
          RETURN QUERY SELECT * FROM {s}.claim_flow(p_worker, q.name, q.lim, q.start, p_now, p_tasks, p_lease_ms);
        END LOOP;
      END
      $$;
    `,
  },
  {
    version: 8,
    name: 'flow claims: one index descent to find the first key, index scans that mark dead entries, ended runs counted free',
    sql: `
      -- The rotation's first key was found by a scan of every index entry of the queue before the
      -- rotation (an OR in its seed); now by one descent.
      -- Runs of the claiming worker that have ended, their outcomes on the way (p_ended_*), still
      -- hold their slots in the counters; the claim counts them free (read only: their outcomes
      -- give the slots back, once). Not under strict order: a retry must come before the next job.
      DROP FUNCTION {s}.claim_flow(text, text, integer, integer, bigint, text[], bigint);
      CREATE FUNCTION {s}.claim_flow(p_worker text, p_queue text, p_limit integer, p_start integer, p_clock bigint,
                                     p_tasks text[], p_lease_ms bigint,
                                     p_ended_ids bigint[] DEFAULT '{}', p_ended_fences integer[] DEFAULT '{}')
        RETURNS SETOF {s}.jobs LANGUAGE plpgsql AS $$
      DECLARE
        l {s}.limits%ROWTYPE;
        lim jsonb;
        budget integer;
        taken integer := 0;
        n integer;
        live bigint[];
        klive bigint[];
        wake bigint;
        k text COLLATE "C";
        v_rotation text COLLATE "C";
        v_last text COLLATE "C";
        wrapped boolean;
        visited integer := 0;
        most integer;
        k_running integer;
        k_starts bigint[];
        k_held bigint;
        free integer;
        klimit integer;
        v_strict boolean;
        krate_limit integer;
        krate_per bigint;
        head record;
        p_now bigint;
        v_ids bigint[];
        v_start integer;
        v_keys text[] := '{}';
        v_counts integer[] := '{}';
        v_released integer;
        v_ended text[] := '{}';
      BEGIN
        SELECT * INTO l FROM {s}.limits WHERE queue = p_queue FOR UPDATE;
        IF NOT FOUND THEN RETURN; END IF;
        -- The slots given back since the last claim (flow_releases) come off the counters first.
        WITH gone AS (DELETE FROM {s}.flow_releases WHERE queue = p_queue RETURNING key),
        counted AS (SELECT gone.key, count(*)::int AS n FROM gone GROUP BY gone.key),
        keys_done AS (
          UPDATE {s}.flow_keys f SET running = f.running - counted.n FROM counted
           WHERE f.queue = p_queue AND f.key = counted.key)
        SELECT coalesce(sum(counted.n), 0) INTO v_released FROM counted;
        IF v_released > 0 THEN
          UPDATE {s}.limits SET running = running - v_released WHERE queue = p_queue;
          l.running := l.running - v_released;
        END IF;
        -- Read after the fold: a release it took is of a run no longer running, never counted twice.
        IF cardinality(p_ended_ids) > 0 AND coalesce(coalesce(l.runtime, l.declared) ->> 'order', '') <> 'strict' THEN
          v_ended := ARRAY(
            SELECT j.flow_key FROM {s}.jobs j
              JOIN unnest(p_ended_ids, p_ended_fences) AS e(id, fence) ON j.id = e.id AND j.fence = e.fence
             WHERE j.queue = p_queue AND j.lease_owner = p_worker AND j.state = 'running' AND j.slot);
          l.running := l.running - cardinality(v_ended);
        END IF;
        p_now := greatest(p_clock, l.claimed_at);
        lim := coalesce(l.runtime, l.declared, '{}');
        IF l.held_until > p_now THEN RETURN; END IF;
        -- A wake that an earlier claim set for a key this one may not visit still stands.
        wake := CASE WHEN l.wake_at > p_now THEN l.wake_at END;
        -- Jobs claimed ahead hold their slots like running ones, but a start counted in a rate
        -- window must be a start: a rate-limited queue claims nothing ahead.
        budget := CASE WHEN lim ? 'rate' OR lim ? 'keyRate' THEN least(p_limit, p_start) ELSE p_limit END;
        IF lim ? 'concurrency' THEN budget := least(budget, (lim->>'concurrency')::int - l.running); END IF;
        IF lim ? 'rate' THEN
          live := ARRAY(SELECT t FROM unnest(l.starts) AS t WHERE t > p_now - (lim->'rate'->>'per')::bigint ORDER BY t);
          budget := least(budget, (lim->'rate'->>'limit')::int - cardinality(live));
          IF cardinality(live) >= (lim->'rate'->>'limit')::int THEN
            wake := least(wake, live[cardinality(live) - (lim->'rate'->>'limit')::int + 1] + (lim->'rate'->>'per')::bigint);
          END IF;
        END IF;
        IF budget <= 0 THEN
          UPDATE {s}.limits SET wake_at = wake WHERE queue = p_queue;
          RETURN;
        END IF;
        v_strict := coalesce(lim->>'order' = 'strict', false);
        krate_limit := (lim->'keyRate'->>'limit')::int;
        krate_per := (lim->'keyRate'->>'per')::bigint;
        most := greatest(64, 4 * budget);
        v_rotation := l.rotation;
        v_last := l.rotation;
        IF NOT v_strict AND krate_limit IS NULL THEN
          -- The common case, set-based: the keys in rotation order (a skip scan from the rotation,
          -- wrapping once), each with its free slots; their due jobs taken round-robin (every
          -- key's first job, then every key's second…) up to the budget.
          -- Two seeds, not one with "v_rotation IS NULL OR …": that OR makes the seed a scan of
          -- the queue's whole index range up to the rotation, instead of one descent.
          IF v_rotation IS NOT NULL THEN
            v_keys := ARRAY(
              WITH RECURSIVE r(k, pos) AS (
                SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                           AND flow_key > v_rotation ORDER BY flow_key LIMIT 1), 1
                UNION ALL
                SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                           AND flow_key > r.k ORDER BY flow_key LIMIT 1), r.pos + 1
                  FROM r WHERE r.k IS NOT NULL AND r.pos < most)
              SELECT r.k FROM r WHERE r.k IS NOT NULL ORDER BY r.pos);
          END IF;
          IF v_rotation IS NULL OR cardinality(v_keys) < most THEN
            v_keys := v_keys || ARRAY(
              WITH RECURSIVE r(k, pos) AS (
                SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                           ORDER BY flow_key LIMIT 1), 1
                UNION ALL
                SELECT (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue
                           AND flow_key > r.k ORDER BY flow_key LIMIT 1), r.pos + 1
                  FROM r WHERE r.k IS NOT NULL AND (v_rotation IS NULL OR r.k < v_rotation) AND r.pos < most - cardinality(v_keys))
              SELECT r.k FROM r WHERE r.k IS NOT NULL AND (v_rotation IS NULL OR r.k <= v_rotation) ORDER BY r.pos);
          END IF;
          IF cardinality(v_keys) = 0 THEN
            UPDATE {s}.limits SET wake_at = wake, claimed_at = p_now WHERE queue = p_queue;
            RETURN;
          END IF;
          SELECT least(wake, min(f.held_until) FILTER (WHERE f.held_until > p_now)) INTO wake
            FROM {s}.flow_keys f WHERE f.queue = p_queue AND f.key = ANY(v_keys);
          WITH cand AS (
            SELECT c.k, c.ord,
                   least(budget, ceil(budget * 2.0 / cardinality(v_keys))::int + 1,
                         CASE WHEN c.k = '' THEN budget
                              ELSE coalesce((lim->'keyOverrides'->>c.k)::int, (lim->>'keyConcurrency')::int) - coalesce(f.running, 0)
                                   + (SELECT count(*)::int FROM unnest(v_ended) AS x WHERE x = c.k) END) AS free
              FROM unnest(v_keys) WITH ORDINALITY AS c(k, ord)
              LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = c.k
             WHERE coalesce(f.held_until, 0) <= p_now),
          picked AS MATERIALIZED (
            SELECT j.id, j.priority, j.run_at, cand.k, cand.ord FROM cand CROSS JOIN LATERAL (
              SELECT jobs.id, jobs.priority, jobs.run_at FROM {s}.jobs
               WHERE jobs.state = 'queued' AND jobs.flow_key IS NOT NULL AND jobs.queue = p_queue AND jobs.flow_key = cand.k
                 AND jobs.run_at <= p_now AND jobs.task = ANY(p_tasks)
               ORDER BY jobs.flow_key, jobs.priority DESC, jobs.run_at, jobs.id
               LIMIT cand.free FOR UPDATE SKIP LOCKED) j
             WHERE cand.free > 0),
          chosen AS MATERIALIZED (
            SELECT x.id, x.k, x.ord, x.seq FROM (
              SELECT p.id, p.k, p.ord, row_number() OVER (ORDER BY p.turn, p.ord) AS seq FROM (
                SELECT picked.*, row_number() OVER (PARTITION BY picked.k ORDER BY picked.priority DESC, picked.run_at, picked.id) AS turn
                  FROM picked) p) x
             WHERE x.seq <= budget),
          keyed AS (
            INSERT INTO {s}.flow_keys (queue, key, running)
            SELECT p_queue, chosen.k, count(*) FROM chosen GROUP BY chosen.k
            ON CONFLICT (queue, key) DO UPDATE SET running = flow_keys.running + excluded.running),
          leased AS (
            UPDATE {s}.jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = p_worker,
                   lease_expires_at = p_now + p_lease_ms, slot = true,
                   started_at = CASE WHEN chosen.seq <= p_start THEN p_now END
              FROM chosen WHERE jobs.id = chosen.id
            RETURNING jobs.id)
          SELECT ARRAY(SELECT leased.id FROM leased), (SELECT chosen.k FROM chosen ORDER BY chosen.ord DESC LIMIT 1)
            INTO v_ids, k;
          taken := cardinality(v_ids);
          v_last := coalesce(k, v_last);
          RETURN QUERY SELECT * FROM {s}.jobs WHERE id = ANY(v_ids);
        ELSE
        IF v_rotation IS NULL THEN
          SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
          wrapped := true;
        ELSE
          SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key > v_rotation ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
          wrapped := false;
        END IF;
        LOOP
          EXIT WHEN visited >= most OR taken >= budget;
          IF k IS NULL THEN
            EXIT WHEN wrapped;
            wrapped := true;
            SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
            EXIT WHEN k IS NULL;
          END IF;
          EXIT WHEN wrapped AND v_rotation IS NOT NULL AND k > v_rotation;
          visited := visited + 1;
          free := budget - taken;
          IF k_held > p_now THEN
            wake := least(wake, k_held);
            free := 0;
          END IF;
          IF k <> '' THEN
            klimit := CASE WHEN v_strict THEN 1 ELSE coalesce((lim->'keyOverrides'->>k)::int, (lim->>'keyConcurrency')::int) END;
            IF klimit IS NOT NULL THEN
              free := least(free, klimit - k_running + (SELECT count(*)::int FROM unnest(v_ended) AS x WHERE x = k));
            END IF;
            IF krate_limit IS NOT NULL THEN
              klive := ARRAY(SELECT t FROM unnest(k_starts) AS t WHERE t > p_now - krate_per ORDER BY t);
              IF cardinality(klive) >= krate_limit THEN
                wake := least(wake, klive[cardinality(klive) - krate_limit + 1] + krate_per);
              END IF;
              free := least(free, krate_limit - cardinality(klive));
            END IF;
          END IF;
          IF free > 0 THEN
            IF v_strict AND k <> '' THEN
              SELECT id, run_at, task INTO head FROM {s}.jobs
               WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key = k
               ORDER BY flow_key, id LIMIT 1 FOR UPDATE;
              v_ids := CASE WHEN FOUND AND head.run_at <= p_now AND head.task = ANY(p_tasks) THEN ARRAY[head.id] ELSE '{}' END;
            ELSE
              -- ORDER BY flow_key first, though it is fixed, so the plan walks jobs_flow.
              v_ids := ARRAY(
                SELECT id FROM {s}.jobs
                 WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key = k AND run_at <= p_now
                   AND task = ANY(p_tasks)
                 ORDER BY flow_key, priority DESC, run_at, id LIMIT free FOR UPDATE SKIP LOCKED);
            END IF;
            n := cardinality(v_ids);
            IF n > 0 THEN
              -- The rows are locked and queued; the first p_start of the claim start now, the rest are claimed ahead.
              v_start := greatest(0, least(n, p_start - taken));
              RETURN QUERY UPDATE {s}.jobs SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = p_worker,
                     lease_expires_at = p_now + p_lease_ms, slot = true,
                     started_at = CASE WHEN array_position(v_ids, id) <= v_start THEN p_now END
               WHERE id = ANY(v_ids)
              RETURNING *;
            END IF;
            IF n > 0 THEN
              taken := taken + n;
              v_last := k;
              IF krate_limit IS NOT NULL AND k <> '' THEN
                klive := {s}.window_after(klive, n, p_now, krate_limit);
                -- A window these starts filled wakes the worker when its oldest start leaves it.
                IF cardinality(klive) >= krate_limit THEN
                  wake := least(wake, klive[cardinality(klive) - krate_limit + 1] + krate_per);
                END IF;
                INSERT INTO {s}.flow_keys (queue, key, running, starts) VALUES (p_queue, k, n, klive)
                ON CONFLICT (queue, key) DO UPDATE SET running = flow_keys.running + excluded.running, starts = excluded.starts;
              ELSE
                v_keys := v_keys || k::text;
                v_counts := v_counts || n;
              END IF;
            END IF;
          END IF;
          EXIT WHEN wrapped AND k = v_rotation;
          SELECT j.flow_key, coalesce(f.running, 0), coalesce(f.starts, '{}'), f.held_until INTO k, k_running, k_starts, k_held
            FROM (SELECT flow_key FROM {s}.jobs WHERE state = 'queued' AND flow_key IS NOT NULL AND queue = p_queue AND flow_key > k ORDER BY flow_key LIMIT 1) j
            LEFT JOIN {s}.flow_keys f ON f.queue = p_queue AND f.key = j.flow_key;
        END LOOP;
        INSERT INTO {s}.flow_keys (queue, key, running)
        SELECT p_queue, t.key, t.n FROM unnest(v_keys, v_counts) AS t(key, n)
        ON CONFLICT (queue, key) DO UPDATE SET running = flow_keys.running + excluded.running;
        END IF;
        IF lim ? 'rate' THEN
          live := {s}.window_after(live, taken, p_now, (lim->'rate'->>'limit')::int);
          IF cardinality(live) >= (lim->'rate'->>'limit')::int THEN
            wake := least(wake, live[cardinality(live) - (lim->'rate'->>'limit')::int + 1] + (lim->'rate'->>'per')::bigint);
          END IF;
        END IF;
        UPDATE {s}.limits SET running = running + taken, rotation = v_last, wake_at = wake, starts = coalesce(live, '{}'),
               claimed_at = p_now
         WHERE queue = p_queue;
      END
      $$;
      -- Limited queues go through claim_flow, which also takes the worker's ended runs (p_ended_*);
      -- the others keep the one set-based statement.
      DROP FUNCTION {s}.claim_jobs(text, text[], integer[], integer[], bigint, text[], bigint, text);
      CREATE FUNCTION {s}.claim_jobs(p_worker text, p_queues text[], p_limits integer[], p_starts integer[], p_now bigint,
                                     p_tasks text[], p_lease_ms bigint, p_commit text,
                                     p_ended_ids bigint[] DEFAULT '{}', p_ended_fences integer[] DEFAULT '{}')
        RETURNS SETOF {s}.jobs LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET enable_seqscan = off
        -- enable_seqscan = off prices a scan of the small flow tables so high that the JIT would
        -- compile every claim (some 200 ms).
        SET jit = off
        -- Index-only scans of the flow indexes fetch the heap for every entry of a claimed job
        -- until vacuum comes; plain index scans mark those entries dead, so the next claim skips them.
        SET enable_indexonlyscan = off
      AS $$
      DECLARE
        limited text[];
        q record;
      BEGIN
        PERFORM set_config('synchronous_commit', p_commit, true);
        PERFORM pg_advisory_xact_lock_shared(hashtext('offload.limits:{s}'));
        limited := ARRAY(SELECT queue FROM {s}.limits WHERE queue = ANY(p_queues) AND coalesce(runtime, declared, '{}') <> '{}');
        RETURN QUERY
          WITH wanted AS (
            SELECT w.name, w.lim, w.start FROM unnest(p_queues, p_limits, p_starts) AS w(name, lim, start)
             WHERE NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = w.name AND p.paused)
               AND NOT w.name = ANY(limited)),
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
                 lease_expires_at = p_now + p_lease_ms, slot = false,
                 started_at = CASE WHEN jobs.id = ANY(ARRAY(SELECT starting.id FROM starting)) THEN p_now END
           WHERE jobs.id = ANY(ARRAY(SELECT picked.id FROM picked))
          RETURNING jobs.*;
        IF cardinality(limited) = 0 THEN RETURN; END IF;
        FOR q IN SELECT w.name, w.lim, least(w.start, w.lim) AS start FROM unnest(p_queues, p_limits, p_starts) AS w(name, lim, start)
                  WHERE w.name = ANY(limited) AND w.lim > 0
                    AND NOT EXISTS (SELECT 1 FROM {s}.queues p WHERE p.name = w.name AND p.paused)
                  ORDER BY w.name LOOP
          RETURN QUERY SELECT * FROM {s}.claim_flow(p_worker, q.name, q.lim, q.start, p_now, p_tasks, p_lease_ms,
                                                    p_ended_ids, p_ended_fences);
        END LOOP;
      END
      $$;
    `,
  },
  {
    version: 9,
    name: 'bulk actions and the dead-letter view',
    sql: `
      -- One row per bulk action (retry, cancel, delete by filter): its filter, the id cursor its
      -- chunks have reached, the newest job id it may take, counters, and the lease of the process
      -- running its chunks, so any replica can report it and a restarted one can resume it.
      CREATE TABLE {s}.bulk_actions (
        id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        action           text    NOT NULL CHECK (action IN ('retry','cancel','delete')),
        filter           jsonb   NOT NULL,
        state            text    NOT NULL CHECK (state IN ('running','done','interrupted')),
        matched          bigint  NOT NULL,
        done             bigint  NOT NULL DEFAULT 0,
        skipped          bigint  NOT NULL DEFAULT 0,
        cursor           bigint  NOT NULL DEFAULT 0,
        max_id           bigint  NOT NULL,
        owner            text,
        lease_expires_at bigint,
        error            text,
        created_at       bigint  NOT NULL,
        updated_at       bigint  NOT NULL,
        finished_at      bigint
      );
      CREATE INDEX jobs_failed ON {s}.jobs (task, finished_at) WHERE state = 'failed';
    `,
  },
  {
    version: 10,
    name: 'job meta and tags',
    sql: `
      -- meta: JSON text of an object; tags: distinct strings. Both NULL when a job has none. The
      -- GIN index is partial, so untagged jobs add nothing to it: a filter by tag (tags @> ARRAY[t])
      -- reads the tagged jobs only.
      ALTER TABLE {s}.jobs ADD COLUMN meta text, ADD COLUMN tags text[];
      CREATE INDEX jobs_tags ON {s}.jobs USING gin (tags) WHERE tags IS NOT NULL;
    `,
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
