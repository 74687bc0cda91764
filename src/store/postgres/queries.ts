import { MAX_ERROR_HISTORY } from '../../core/job.ts';
import { TOP_KEYS } from '../flow-state.ts';

/**
 * The SQL of the PostgreSQL store, one statement per store method, named after the method that
 * runs it. `{s}` stands for the quoted schema. Stored state is one of queued/running/succeeded/
 * failed/cancelled; `scheduled` is a queued job whose run_at lies ahead, derived on read. Times are
 * epoch milliseconds from the store's clock, never the server's `now()`, so tests can move time.
 *
 * Every statement that changes a job announces the change itself, with `pg_notify` in the same
 * statement, so notifications are delivered in the order the changes committed: a job's events
 * reach every listener in the order they happened, whichever store instance made them. Successes
 * are the exception: a success ends its job, it follows only events announced in their own commits,
 * and it is announced just after its commit, gathered with others (notifier.ts), which keeps the
 * bulk of the traffic out of the notify lock. A transaction that notifies holds a database-wide
 * lock through its commit, disk flush included, so the statements that notify commit without
 * waiting for the disk (the lock is then held for microseconds) and the store acknowledges the
 * change only after `walFlush` has put that commit on disk: no acknowledged change is less
 * durable. Where the role may not run `walFlush`, the relaxing flag (`relaxed` below) is false and
 * these commits wait for the disk under the lock. Through a caller's client an enqueue is
 * announced on the caller's commit.
 *
 * Claims commit with synchronous_commit off (`$8`, see PostgresStoreOptions.claimCommit): a claim
 * lost to a server crash only means the job runs again, and every later durable commit (an
 * outcome, an enqueue) flushes the claims before it.
 */
import { WEBHOOK_QUEUE, WEBHOOK_TASK } from '../contract.ts';

const LEASE_MATCH = `id = $1 AND state = 'running' AND lease_owner = $2 AND fence = $3`;
/** `errors` with the jsonb `entry` appended, keeping the newest MAX_ERROR_HISTORY. */
const appendError = (entry: string, table = 'j') =>
  `(CASE WHEN jsonb_array_length(coalesce(${table}.errors, '[]')) >= ${MAX_ERROR_HISTORY} THEN ${table}.errors - 0 ELSE coalesce(${table}.errors, '[]') END) || jsonb_build_array(${entry})`;
const CLEAR_LEASE = `lease_owner = NULL, lease_expires_at = NULL`;
const WORKER_DIED_MESSAGE = `'the worker ' || lease_owner || ' stopped renewing its lease (it died or hung); '
                 || CASE WHEN attempts >= max_attempts THEN 'no attempts left' ELSE 'the job was queued again' END`;

/**
 * What a claim returns: every column but those the claim itself sets (state, lease_owner,
 * lease_expires_at), which the store fills in from its parameters. Parsing columns is most of a
 * worker's cost per job on PostgreSQL.
 */
const CLAIM_COLUMNS = `id, queue, task, payload, priority, run_at, attempts, max_attempts, timeout_ms, unique_key, idempotency_key,
      callback_url, webhook_job_id, progress, result, error, errors, created_at, started_at, finished_at, placement, output_tail, fence, flow_key, meta, tags`;

/** The derived state of a row, given `now` as parameter `$n`. */
export const stateExpression = (n: number) =>
  `CASE WHEN state = 'queued' AND run_at > $${n} THEN 'scheduled' WHEN state = 'running' AND started_at IS NULL THEN 'claimed' ELSE state END`;

/**
 * A CTE `notes` that sends the rows of `source` as notifications of `kind`: JSON arrays
 * `[origin, kind, [item, ...]]`, cut into chunks that stay well under PostgreSQL's 8000-byte limit.
 * Select `(SELECT count(*) FROM notes)` in the final query so the CTE runs.
 */
export function notify(source: string, kind: string, item: string, name = 'notes'): string {
  return `${name} AS (
    SELECT pg_notify({channel}, json_build_array({origin}::text, '${kind}', json_agg(item ORDER BY ord))::text)
      FROM (SELECT item, ord, sum(octet_length(item::text)) OVER (ORDER BY ord) / 2000 AS chunk
              FROM (SELECT ${item} AS item, row_number() OVER () AS ord FROM ${source}) numbered) sized
     GROUP BY chunk)`;
}

/**
 * {@link notify} for a statement that changes at most one row: the same payload, without the window
 * functions that cut many rows into chunks (about 0.1 ms of every single enqueue).
 */
function notifyOne(source: string, kind: string, item: string, name = 'notes'): string {
  return `${name} AS (SELECT pg_notify({channel}, json_build_array({origin}::text, '${kind}', json_build_array(${item}))::text) FROM ${source})`;
}

const SENT = `(SELECT count(*) FROM notes) AS sent`;
/** A CTE that makes the statement's transaction commit without waiting for the disk; select from it so it runs. */
const RELAXED = `relaxed AS (SELECT set_config('synchronous_commit', 'off', true))`;
export const ENQUEUED_ITEM = `json_build_array(id::text, queue, task, attempts, run_at)`;
/**
 * A CTE `relaxed` for a statement that announces its change: when the flag `$n` is true (the store
 * can run `walFlush`) and `changed` holds, the transaction commits without waiting for the disk, and
 * the store runs `walFlush` before it resolves. Select {@link RELAXED_FLAG} so it runs.
 */
const relaxedIf = (flag: string, changed: string) =>
  `relaxed AS (SELECT set_config('synchronous_commit', 'off', true) WHERE ${flag}::boolean AND ${changed})`;
const RELAXED_FLAG = `(SELECT count(*) > 0 FROM relaxed) AS relaxed`;
/** A notification item of a webhook delivery job made by the trigger of migration 2, as enqueued at `now`. */
export const deliveryItem = (now: string) =>
  `json_build_array(webhook_job_id::text, '${WEBHOOK_QUEUE}', '${WEBHOOK_TASK}', 0, ${now}::bigint)`;
/** Most job ids in one grouped start item: an item stays far below the payload limit. */
const GROUP_SIZE = 100;

/** A job's flow key: its own, else '' when its queue is limited (so the flow claim finds it), else null. */
const flowKeyOf = (key: string, queue: string) =>
  `coalesce(${key}, (SELECT '' FROM {s}.limits WHERE limits.queue = ${queue}))`;
const INSERT_ONE = `
    INSERT INTO {s}.jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, unique_key, created_at, idempotency_key, callback_url, flow_key, meta, tags)
    VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, ${flowKeyOf('$12::text', '$1::text')}, $13::text, $14::text[])
    ON CONFLICT DO NOTHING`;
const INSERT_MANY = `
    INSERT INTO {s}.jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, created_at, callback_url, flow_key, meta, tags)
    SELECT queue, task, payload, 'queued', priority, run_at, max_attempts, timeout_ms, $8, callback_url, ${flowKeyOf('t.flow_key', 't.queue')},
           t.meta, CASE WHEN t.tags IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(t.tags::jsonb)) END
      FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::int[], $7::int[], $9::text[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY
           AS t(queue, task, payload, priority, run_at, max_attempts, timeout_ms, callback_url, flow_key, meta, tags, ord)
     ORDER BY ord`;

export const sql = {
  /**
   * $1 queue, $2 task, $3 payload, $4 priority, $5 run_at, $6 max_attempts, $7 timeout_ms, $8 unique_key, $9 now,
   * $10 idempotency_key, $11 callback_url. Announces the job and commits without waiting for the disk:
   * follow it with `walFlush` before acknowledging.
   */
  jobInsert: `
    WITH ${RELAXED},
    ins AS (${INSERT_ONE} RETURNING id, queue, task, attempts, run_at),
    ${notifyOne('ins', 'enq', ENQUEUED_ITEM)}
    SELECT ins.id FROM relaxed, ins, ${SENT}`,
  /** jobInsert for a caller's client: announces the job in the caller's transaction, so only on commit. */
  jobInsertClient: `
    WITH ins AS (${INSERT_ONE} RETURNING id, queue, task, attempts, run_at),
    ${notifyOne('ins', 'enq', ENQUEUED_ITEM)}
    SELECT ins.id FROM ins, ${SENT}`,
  /**
   * Arrays $1 queue, $2 task, $3 payload, $4 priority, $5 run_at, $6 max_attempts, $7 timeout_ms; $8 now; array
   * $9 callback_url, $10 flow_key, $11 meta (JSON text), $12 tags (JSON text of an array). Like jobInsert, announces the jobs and commits without waiting for the disk.
   */
  jobInsertMany: `
    WITH ${RELAXED},
    ins AS (${INSERT_MANY} RETURNING id, queue, task, attempts, run_at),
    ${notify('ins', 'enq', ENQUEUED_ITEM)}
    SELECT ins.id FROM relaxed, ins, ${SENT}`,
  jobInsertManyClient: `
    WITH ins AS (${INSERT_MANY} RETURNING id, queue, task, attempts, run_at),
    ${notify('ins', 'enq', ENQUEUED_ITEM)}
    SELECT ins.id FROM ins, ${SENT}`,
  /** jobInsert where `walFlush` cannot run: a durable commit, announced afterwards by the notifier. */
  jobInsertDurable: `${INSERT_ONE} RETURNING id`,
  /** jobInsertMany where `walFlush` cannot run. */
  jobInsertManyDurable: `${INSERT_MANY} RETURNING id`,
  /** Whether this role may run `walFlush` (the function can be missing or revoked on managed servers). */
  walFlushAllowed: `
    SELECT coalesce(has_function_privilege(to_regprocedure('pg_catalog.pg_logical_emit_message(boolean,text,text)'), 'EXECUTE'), false) AS allowed`,
  /**
   * Returns once everything committed before it is on disk (as far as the server's own
   * synchronous_commit asks). A commit waits for the disk only if its transaction has an id and
   * wrote WAL; a transactional logical-decoding message gives it both, and costs one small record.
   */
  walFlush: `SELECT pg_logical_emit_message(true, 'offload', 'flush')::text AS lsn`,
  jobByUniqueKey: `SELECT * FROM {s}.jobs WHERE unique_key = $1 AND state IN ('queued','running')`,
  jobGet: `SELECT * FROM {s}.jobs WHERE id = $1`,
  jobByIdempotencyKey: `SELECT * FROM {s}.jobs WHERE idempotency_key = $1`,
  /**
   * $1 worker, $2 queue names, $3 limits, $4 how many of each queue start at once (the rest are
   * claimed ahead), $5 now, $6 tasks, $7 lease ms, $8 synchronous_commit of the claim ('off' or
   * 'on'). The claim itself is the function of migration 6: rows are updated through
   * `id = ANY(ARRAY(...))` so the plan is a primary-key lookup whatever the planner guesses about
   * the arrays, and it is planned once per connection. Announces the leases (jobs claimed ahead
   * too) as starts grouped by queue and task, `[queue, task, ids, attempts]`; an empty claim
   * announces nothing.
   */
  jobClaim: `
    WITH c AS MATERIALIZED (SELECT ${CLAIM_COLUMNS} FROM {s}.claim_jobs($1, $2::text[], $3::int[], $4::int[], $5, $6::text[], $7, $8::text, $9::bigint[], $10::int[])),
    ${notify(
      `(SELECT json_build_array(queue, task, json_agg(id::text ORDER BY id), json_agg(attempts ORDER BY id)) AS item
          FROM (SELECT id, queue, task, attempts, (row_number() OVER (PARTITION BY queue, task ORDER BY id) - 1) / ${GROUP_SIZE} AS part FROM c) parts
         GROUP BY queue, task, part) grouped`,
      'st',
      'item',
    )}
    SELECT c.*, ${SENT} FROM c`,
  /**
   * Arrays $1 id, $2 worker, $3 fence; $4 new expiry. Returns the ids whose lease is gone. Rows
   * another statement holds right now (an outcome being written, progress) are skipped, not
   * waited for: such a lease is not lost, and the next renewal extends it. Never waiting is what
   * keeps renewals and outcome writes of one worker from deadlocking.
   */
  jobRenewLeases: `
    WITH l AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[]) AS l(id, worker, fence)),
    free AS MATERIALIZED (
      SELECT j.id FROM {s}.jobs j JOIN l ON j.id = l.id AND j.lease_owner = l.worker AND j.fence = l.fence
       WHERE j.id = ANY($1::bigint[]) AND j.state = 'running' FOR NO KEY UPDATE OF j SKIP LOCKED),
    renewed AS (UPDATE {s}.jobs SET lease_expires_at = $4 WHERE id = ANY(ARRAY(SELECT id FROM free)) RETURNING id)
    SELECT l.id::text AS id FROM l
     WHERE NOT EXISTS (SELECT 1 FROM {s}.jobs j
                        WHERE j.id = l.id AND j.state = 'running' AND j.lease_owner = l.worker AND j.fence = l.fence)`,
  /**
   * All outcomes in one statement. $1 a JSON array of {ord, id, worker, fence, attempt, kind
   * (succeeded, failed, retry, requeue, start), result, error, entry (for the failure history),
   * run_at, placement, output_tail, progress, note}; $2 now. JSON, not arrays: node-postgres escapes
   * every array element in JavaScript, which cost more than the statement itself at tens of
   * thousands of outcomes a second. `note`: the error as announced, when it is shorter than `error`.
   * $3: whether the commit may be relaxed (see {@link relaxedIf}). Announces every accepted outcome
   * but successes and starts (`[id, queue, task, attempt, kind, error, run_at]`) and the webhook
   * deliveries it made, relaxed; a batch of successes and starts without deliveries announces
   * nothing and waits for the disk as before. A `start` only marks a claimed job started (its start
   * was announced with the claim); the caller never sends a start and an outcome of one lease
   * together (one statement must not update a row twice). Returns the ords that were accepted.
   */
  jobRecordOutcomes: `
    WITH o AS (
      SELECT * FROM json_to_recordset($1::json)
        AS o(ord int, id bigint, worker text, fence int, attempt int, kind text, result text, error text, entry jsonb, run_at bigint,
             placement text, output_tail text, progress text, started_at bigint, note text)),
    done AS (
      UPDATE {s}.jobs j SET
        state = CASE o.kind WHEN 'succeeded' THEN 'succeeded' WHEN 'failed' THEN 'failed' ELSE 'queued' END,
        result = CASE o.kind WHEN 'succeeded' THEN o.result ELSE j.result END,
        error = CASE WHEN o.kind IN ('failed', 'retry') THEN o.error ELSE j.error END,
        errors = CASE WHEN o.kind IN ('failed', 'retry') THEN ${appendError('o.entry')} ELSE j.errors END,
        run_at = CASE WHEN o.kind IN ('retry', 'requeue', 'limited') THEN o.run_at ELSE j.run_at END,
        attempts = CASE WHEN o.kind IN ('requeue', 'limited') THEN j.attempts - 1 ELSE j.attempts END,
        finished_at = CASE WHEN o.kind IN ('succeeded', 'failed') THEN $2 ELSE j.finished_at END,
        started_at = coalesce(j.started_at, o.started_at, $2),
        placement = o.placement,
        output_tail = o.output_tail,
        progress = coalesce(o.progress, j.progress),
        ${CLEAR_LEASE}
      FROM o
      WHERE j.id = ANY(ARRAY(SELECT o.id FROM o)) AND j.id = o.id AND o.kind <> 'start'
        AND j.state = 'running' AND j.lease_owner = o.worker AND j.fence = o.fence
      RETURNING o.ord, o.id, j.queue, j.task, j.webhook_job_id, o.kind, o.attempt, coalesce(o.note, o.error) AS note, o.run_at, j.flow_key),
    -- ctx.rateLimited: the job's key (its whole queue when unkeyed) starts nothing until run_at.
    held_keys AS (
      INSERT INTO {s}.flow_keys (queue, key, held_until)
      SELECT queue, flow_key, max(run_at) FROM done WHERE kind = 'limited' AND flow_key <> '' GROUP BY queue, flow_key
      ON CONFLICT (queue, key) DO UPDATE SET held_until = greatest(coalesce(flow_keys.held_until, 0), excluded.held_until)),
    held_queues AS (
      UPDATE {s}.limits l SET held_until = greatest(coalesce(l.held_until, 0), h.until), wake_at = h.until
        FROM (SELECT queue, max(run_at) AS until FROM done WHERE kind = 'limited' AND coalesce(flow_key, '') = '' GROUP BY queue) h
       WHERE l.queue = h.queue),
    started AS (
      UPDATE {s}.jobs j SET started_at = $2
      FROM o
      WHERE j.id = ANY(ARRAY(SELECT o.id FROM o WHERE o.kind = 'start')) AND j.id = o.id AND o.kind = 'start'
        AND j.state = 'running' AND j.lease_owner = o.worker AND j.fence = o.fence AND j.started_at IS NULL
      RETURNING o.ord, o.id, j.queue, j.task, j.webhook_job_id),
    ${relaxedIf('$3', `EXISTS (SELECT 1 FROM done WHERE kind <> 'succeeded' OR webhook_job_id IS NOT NULL)`)},
    ${notify(`done WHERE kind <> 'succeeded'`, 'out', `json_build_array(id::text, queue, task, attempt, kind, note::json, run_at)`)},
    ${notify('done WHERE webhook_job_id IS NOT NULL', 'enq', deliveryItem('$2'), 'hooks')}
    SELECT ord, id, queue, task, webhook_job_id, ${RELAXED_FLAG}, ${SENT}, (SELECT count(*) FROM hooks) AS hooked FROM done
    UNION ALL
    SELECT ord, id, queue, task, webhook_job_id, ${RELAXED_FLAG}, ${SENT}, (SELECT count(*) FROM hooks) AS hooked FROM started`,
  /**
   * $1 id, $2 worker, $3 fence, $4 progress JSON, $5 may relax. Announces the value, or null when
   * its JSON is over 4 000 bytes (read the job for it).
   */
  jobSetProgress: `
    WITH p AS (UPDATE {s}.jobs SET progress = $4::text WHERE ${LEASE_MATCH} RETURNING id, queue, task, attempts),
    ${relaxedIf('$5', 'EXISTS (SELECT 1 FROM p)')},
    ${notifyOne('p', 'prog', 'json_build_array(id::text, queue, task, attempts, CASE WHEN octet_length($4::text) <= 4000 THEN $4::text::json END)')}
    SELECT p.*, ${RELAXED_FLAG}, ${SENT} FROM p`,
  /** $1 id, $2 now, $3 may relax. Announces the cancel and the webhook delivery it made. */
  jobCancel: `
    WITH c AS (
      UPDATE {s}.jobs SET state = 'cancelled', finished_at = $2, ${CLEAR_LEASE}
       WHERE id = $1 AND state IN ('queued','running')
      RETURNING *),
    ${relaxedIf('$3', 'EXISTS (SELECT 1 FROM c)')},
    ${notifyOne('c', 'cancel', 'json_build_array(id::text, queue, task, attempts)')},
    ${notifyOne('c WHERE webhook_job_id IS NOT NULL', 'enq', deliveryItem('$2'), 'hooks')}
    SELECT c.*, ${RELAXED_FLAG}, ${SENT}, (SELECT count(*) FROM hooks) AS hooked FROM c`,
  /**
   * $1 id, $2 now, $3 may relax. Announces the job as enqueued again. A job of a queue limited
   * since it ended gets the flow key an enqueue would give it now.
   */
  jobRetry: `
    WITH r AS (
      UPDATE {s}.jobs j SET state = 'queued', attempts = 0, run_at = $2, finished_at = NULL, result = NULL,
             flow_key = ${flowKeyOf('j.flow_key', 'j.queue')}
       WHERE id = $1 AND state IN ('failed','cancelled')
      RETURNING *),
    ${relaxedIf('$3', 'EXISTS (SELECT 1 FROM r)')},
    ${notifyOne('r', 'enq', ENQUEUED_ITEM)}
    SELECT r.*, ${RELAXED_FLAG}, ${SENT} FROM r`,
  /**
   * $1 id, $2 run_at, $3 priority, $4 payload (each null: kept), $5 may relax. Only a job that has
   * not started: a claim that locked the row first leaves it running, which this WHERE then refuses.
   * Announces `[id, queue, task, attempts, run_at]`; other processes look for work again.
   */
  jobUpdate: `
    WITH u AS (
      UPDATE {s}.jobs SET run_at = coalesce($2::bigint, run_at), priority = coalesce($3::int, priority), payload = coalesce($4::text, payload)
       WHERE id = $1 AND state = 'queued'
      RETURNING *),
    ${relaxedIf('$5', 'EXISTS (SELECT 1 FROM u)')},
    ${notifyOne('u', 'upd', ENQUEUED_ITEM)}
    SELECT u.*, ${RELAXED_FLAG}, ${SENT} FROM u`,
  /**
   * $1 id, $2 now, $3 may relax. Deletes a job that has not started or has ended. Announces
   * `[id, queue, task, attempts, state]` with the state it had.
   */
  jobRemove: `
    WITH d AS (
      DELETE FROM {s}.jobs WHERE id = $1 AND state <> 'running'
      RETURNING *),
    ${relaxedIf('$3', 'EXISTS (SELECT 1 FROM d)')},
    ${notifyOne('d', 'rm', `json_build_array(id::text, queue, task, attempts, ${stateExpression(2)})`)}
    SELECT d.*, ${RELAXED_FLAG}, ${SENT} FROM d`,
  /**
   * $1 now, $2 may relax. Skips rows another statement holds, so two recoverers never wait on each
   * other. Announces each job as recovered (queued again) or failed, and the webhook deliveries made.
   */
  jobRecoverExpired: `
    WITH expired AS MATERIALIZED (
      SELECT id FROM {s}.jobs WHERE state = 'running' AND lease_expires_at < $1 ORDER BY id FOR NO KEY UPDATE SKIP LOCKED),
    recovered AS (
      UPDATE {s}.jobs j
         SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
             finished_at = CASE WHEN attempts >= max_attempts THEN $1::bigint END,
             run_at = $1,
             error = json_build_object('name', 'OffloadError', 'code', 'ERR_WORKER_DIED', 'attempt', attempts, 'message', ${WORKER_DIED_MESSAGE})::text,
             errors = ${appendError(`jsonb_build_object('attempt', attempts, 'at', $1::bigint, 'name', 'OffloadError', 'message', ${WORKER_DIED_MESSAGE}, 'code', 'ERR_WORKER_DIED')`)},
             ${CLEAR_LEASE}
       WHERE j.id = ANY(ARRAY(SELECT id FROM expired))
      RETURNING j.id, j.queue, j.task, j.attempts, j.state, j.error, j.run_at, j.webhook_job_id),
    ${relaxedIf('$2', 'EXISTS (SELECT 1 FROM recovered)')},
    ${notify(
      'recovered',
      'out',
      `json_build_array(id::text, queue, task, attempts, CASE WHEN state = 'failed' THEN 'failed' ELSE 'recovered' END,
        CASE WHEN octet_length(error) <= 1500 THEN error::json
             ELSE json_build_object('name', 'OffloadError', 'code', 'ERR_WORKER_DIED', 'attempt', attempts, 'message', left(error::json->>'message', 300)) END,
        run_at)`,
    )},
    ${notify('recovered WHERE webhook_job_id IS NOT NULL', 'enq', deliveryItem('$1'), 'hooks')},
    -- An enqueue that read "not limited" just before its queue became limited committed a job
    -- without a flow key, which the flow claim would never see: mark it, for a minute after a change.
    keyed AS (
      UPDATE {s}.jobs SET flow_key = '' WHERE state = 'queued' AND flow_key IS NULL
         AND queue = ANY(ARRAY(SELECT queue FROM {s}.limits WHERE updated_at > $1 - 60000)))
    SELECT recovered.*, ${RELAXED_FLAG}, ${SENT}, (SELECT count(*) FROM hooks) AS hooked FROM recovered`,
  /** $1 before, $2 limit. */
  jobDeleteFinished: `
    DELETE FROM {s}.jobs WHERE id IN (
      SELECT id FROM {s}.jobs
       WHERE state IN ('succeeded','failed','cancelled') AND finished_at < $1
         AND id < (SELECT max(id) FROM {s}.jobs)
       ORDER BY id
       LIMIT $2)`,
  /** $1 queues, $2 tasks. */
  /**
   * $1 queues, $2 tasks, $3 now. A limited queue's due jobs wait for a slot (a job end wakes the
   * worker) or a token: its next wake is a scheduled run-at or a window or hold running out. The
   * stored wake counts even when it has just passed: a timer may fire a millisecond before the
   * clock reaches it, and the claim it makes then rewrites it (a passed wake is dropped).
   */
  jobNextRunAt: `
    SELECT least(
      (SELECT min(run_at) FROM {s}.jobs
        WHERE state = 'queued' AND queue = ANY($1::text[]) AND task = ANY($2::text[])
          AND queue NOT IN (SELECT name FROM {s}.queues WHERE paused)
          AND queue NOT IN (SELECT queue FROM {s}.limits WHERE coalesce(runtime, declared) <> '{}')),
      (SELECT min(run_at) FROM {s}.jobs
        WHERE state = 'queued' AND run_at > $3 AND task = ANY($2::text[])
          AND queue = ANY(ARRAY(SELECT queue FROM {s}.limits WHERE queue = ANY($1::text[]) AND coalesce(runtime, declared) <> '{}'
                                   AND queue NOT IN (SELECT name FROM {s}.queues WHERE paused)))),
      (SELECT min(w) FROM {s}.limits, unnest(ARRAY[wake_at, CASE WHEN held_until > $3 THEN held_until END]) AS w
        WHERE queue = ANY($1::text[]))) AS run_at`,
  /** $1 queue, $2 layer ('declared' or 'runtime'), $3 limits JSON or null, $4 now. See set_limits (migration 7). */
  limitsSet: `SELECT {s}.set_limits($1, $2, $3::jsonb, $4)`,
  /** $1 queue, or null for all. Running counts less the releases no claim has taken off them yet (see flow_releases, migration 7). */
  limitsAll: `
    SELECT l.queue, l.declared, l.runtime, l.starts, l.held_until,
           l.running - (SELECT count(*) FROM {s}.flow_releases r WHERE r.queue = l.queue)::int AS running
      FROM {s}.limits l WHERE $1::text IS NULL OR l.queue = $1 ORDER BY l.queue`,
  /** $1 queue, $2 now. */
  limitsKeys: `
    SELECT * FROM (
      SELECT f.key, f.running - (SELECT count(*) FROM {s}.flow_releases r WHERE r.queue = $1 AND r.key = f.key)::int AS running,
             f.starts, f.held_until
        FROM {s}.flow_keys f WHERE f.queue = $1) k
     WHERE running > 0 OR held_until > $2 OR cardinality(starts) > 0
     ORDER BY running DESC, key LIMIT ${TOP_KEYS}`,
  /** $1 queue, $2 now. */
  limitsHeldBack: `SELECT count(*)::int AS n FROM {s}.jobs WHERE state = 'queued' AND queue = $1 AND run_at <= $2`,
  /** $1 name, $2 paused. */
  queueSetPaused: `
    INSERT INTO {s}.queues (name, paused) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`,
  queuePaused: `SELECT name FROM {s}.queues WHERE paused`,
  queueNames: `SELECT name FROM {s}.queues`,
  /** $1 now. */
  queueCounts: `SELECT queue, ${stateExpression(1)} AS state, count(*)::int AS n FROM {s}.jobs GROUP BY 1, 2`,
  /** Arrays $1 name, $2 queue, $3 mode, $4 attempts, $5 priority, $6 timeout; $7 now. */
  taskUpsert: `
    INSERT INTO {s}.tasks (name, queue, mode, attempts, priority, timeout_ms, updated_at)
    SELECT DISTINCT ON (name) name, queue, mode, attempts, priority, timeout_ms, $7
      FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[]) WITH ORDINALITY
           AS t(name, queue, mode, attempts, priority, timeout_ms, ord)
     ORDER BY name, ord DESC
    ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, mode = excluded.mode, attempts = excluded.attempts,
      priority = excluded.priority, timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at`,
  taskList: `SELECT name, queue, mode, attempts, priority, timeout_ms AS timeout FROM {s}.tasks ORDER BY name`,
  /** $1 key. */
  settingGet: `SELECT value FROM {s}.settings WHERE key = $1`,
  /** $1 key, $2 value. */
  settingSet: `INSERT INTO {s}.settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  /** $1 key, $2 value: inserts unless present (then read it with settingGet, in a fresh snapshot). */
  settingInit: `INSERT INTO {s}.settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value`,
  /** $1 id, $2 name, $3 scopes, $4 hash, $5 now. */
  tokenCreate: `
    INSERT INTO {s}.tokens (id, name, scopes, hash, created_at) VALUES ($1, $2, $3::text[], $4, $5)
    ON CONFLICT (id) DO NOTHING
    RETURNING *`,
  tokenGet: `SELECT * FROM {s}.tokens WHERE id = $1`,
  tokenList: `SELECT * FROM {s}.tokens ORDER BY created_at, id`,
  /** $1 id, $2 now. */
  tokenRevoke: `UPDATE {s}.tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
  /** $1 id, $2 host, $3 pid, $4 modes, $5 queues, $6 running, $7 started at, $8 heartbeat; forgets workers silent for an hour. */
  workerHeartbeat: `
    WITH forgotten AS (DELETE FROM {s}.workers WHERE last_heartbeat < $8::bigint - ${3_600_000})
    INSERT INTO {s}.workers (id, host, pid, modes, queues, running, started_at, last_heartbeat)
    VALUES ($1, $2, $3, $4::text[], $5::text[], $6, $7, $8)
    ON CONFLICT (id) DO UPDATE SET modes = excluded.modes, queues = excluded.queues, running = excluded.running,
      last_heartbeat = excluded.last_heartbeat`,
  workerRemove: `DELETE FROM {s}.workers WHERE id = $1`,
  /** $1 since. */
  workerList: `SELECT * FROM {s}.workers WHERE last_heartbeat >= $1 ORDER BY id`,
  /** $1 id, $2 now, $3 min interval. */
  tokenTouch: `UPDATE {s}.tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::bigint - $3::bigint)`,
  /**
   * $1 channel; $2 payloads, one per line (they are JSON texts, which never hold a raw newline).
   * Committed without waiting for the disk: a NOTIFY holds a database-wide lock until its commit
   * ends, so a durable commit here made every other announcement, and through them enqueues, wait
   * for a disk flush. Notifications live in memory and are lost in a crash whatever the setting.
   */
  notify: `
    WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
    SELECT count(pg_notify($1, p)) FROM relaxed, unnest(string_to_array($2, E'\\n')) AS p`,
  /** Poll-only mode: the last id handed out, a cheap sign that jobs were added. */
  lastJobId: `SELECT last_value::text AS id FROM {s}.jobs_id_seq`,
} as const;

export type QueryName = keyof typeof sql;

/** WHERE clause of a filter by queue, task and (derived) state; parameters from `$first` on. */
export function filterClause(
  filter: { queue?: string; task?: string; state?: string; tag?: string },
  values: unknown[],
  now: number,
): string {
  const parts: string[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (filter.queue !== undefined) parts.push(`queue = ${param(filter.queue)}`);
  if (filter.tag !== undefined) parts.push(`tags @> ARRAY[${param(filter.tag)}::text]`);
  if (filter.task !== undefined) parts.push(`task = ${param(filter.task)}`);
  if (filter.state === 'scheduled') parts.push(`state = 'queued' AND run_at > ${param(now)}`);
  else if (filter.state === 'queued') parts.push(`state = 'queued' AND run_at <= ${param(now)}`);
  else if (filter.state === 'claimed') parts.push(`state = 'running' AND started_at IS NULL`);
  else if (filter.state === 'running') parts.push(`state = 'running' AND started_at IS NOT NULL`);
  else if (filter.state !== undefined) parts.push(`state = ${param(filter.state)}`);
  return parts.length ? parts.join(' AND ') : 'true';
}

/** Fills in the schema, the channel and the origin of notifications. */
export function bindSql(
  text: string,
  bind: { schema: string; channel: string; origin: string },
): string {
  return text
    .replaceAll('{s}', `"${bind.schema}"`)
    .replaceAll('{channel}', literal(bind.channel))
    .replaceAll('{origin}', literal(bind.origin));
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
