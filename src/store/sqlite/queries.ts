import { MAX_ERROR_HISTORY } from '../../core/job.ts';

/**
 * The SQL of the SQLite store, one statement per store method, named after the method that runs it.
 * Stored state is one of queued/running/succeeded/failed/cancelled; `scheduled` is a queued job whose
 * run_at lies ahead, derived on read (see stateExpression).
 */
const LEASE_MATCH = `id = @id AND state = 'running' AND lease_owner = @workerId AND fence = @fence`;
const CLEAR_LEASE = `lease_owner = NULL, lease_expires_at = NULL`;
/**
 * Where the run ran, what it printed and the last progress it reported, written with every outcome;
 * a job claimed ahead whose start was not recorded on its own started with its run.
 */
const RUN_FACTS = `placement = @placement, output_tail = @outputTail, progress = coalesce(@progress, progress), started_at = coalesce(started_at, @startedAt, @now)`;
/** `errors` with `entry` (JSON) appended, keeping the newest MAX_ERROR_HISTORY. */
const appendError = (entry: string) =>
  `json_insert(CASE WHEN json_array_length(coalesce(errors, '[]')) >= ${MAX_ERROR_HISTORY} THEN json_remove(errors, '$[0]') ELSE coalesce(errors, '[]') END, '$[#]', json(${entry}))`;
const WORKER_DIED_MESSAGE = `'the worker ' || lease_owner || ' stopped renewing its lease (it died or hung); '
               || CASE WHEN attempts >= max_attempts THEN 'no attempts left' ELSE 'the job was queued again' END`;
/**
 * The end sequence an ending statement gives its rows (migration 7): one more than the last, read
 * from the index's far end once per statement. Statements that end jobs set it themselves (a
 * second write of the row by the trigger costs ten times as much); the trigger covers any other.
 */
const NEXT_END_SEQ = `coalesce((SELECT end_seq FROM offload_jobs WHERE end_seq IS NOT NULL ORDER BY end_seq DESC LIMIT 1), 0) + 1`;
/** What outcome statements return: the event fields, and whether the job has a callback (a delivery job may have been made). */
const EVENT_COLUMNS = `id, queue, task, attempts, callback_url IS NOT NULL AS hooked`;

/** A job's flow key: its own, else '' when its queue is limited (so the flow claim finds it), else null. */
export function flowKeyOf(key: string, queue: string): string {
  return `coalesce(${key}, (SELECT '' FROM offload_limits WHERE offload_limits.queue = ${queue}))`;
}

/**
 * 1 when a job's queue keeps strict order per key (migration 9): only such jobs are in the index of
 * a key's oldest job, which the other queues' jobs would only make dearer to claim and enqueue.
 */
export function flowStrictOf(queue: string): string {
  return `EXISTS (SELECT 1 FROM offload_limits WHERE offload_limits.queue = ${queue} AND coalesce(offload_limits.runtime, offload_limits.declared) ->> 'order' = 'strict')`;
}

/** The flow columns a job that goes back to its queue from an end gets, as an enqueue would give them now. */
export const FLOW_REQUEUE = `flow_key = ${flowKeyOf('flow_key', 'offload_jobs.queue')}, flow_strict = ${flowStrictOf('offload_jobs.queue')}`;

/**
 * The queue of the row a removed newest job leaves behind (job-edit.ts): no user queue has this
 * name, and every read of jobs skips it.
 */
export const TOMBSTONE_QUEUE = '';
const NOT_TOMBSTONE = `queue <> '${TOMBSTONE_QUEUE}'`;

export const stateExpression = `CASE WHEN state = 'queued' AND run_at > @now THEN 'scheduled' WHEN state = 'running' AND started_at IS NULL THEN 'claimed' ELSE state END`;

export const sql = {
  jobInsert: `
    INSERT INTO offload_jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, unique_key, idempotency_key, callback_url, created_at, flow_key, flow_strict, meta, tags)
    VALUES (@queue, @task, @payload, 'queued', @priority, @runAt, @maxAttempts, @timeoutMs, @uniqueKey, @idempotencyKey, @callbackUrl, @now, ${flowKeyOf('@key', '@queue')}, ${flowStrictOf('@queue')}, @meta, @tags)
    ON CONFLICT DO NOTHING
    RETURNING *`,
  /** Insert of `rows` jobs without unique or idempotency keys in one statement (12 parameters a row). */
  jobInsertRows: (rows: number) =>
    `INSERT INTO offload_jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, callback_url, created_at, flow_key, flow_strict, meta, tags) ` +
    `SELECT column1, column2, column3, 'queued', column4, column5, column6, column7, column8, column9, ${flowKeyOf('column10', 'column1')}, ${flowStrictOf('column1')}, column11, column12 FROM (VALUES ` +
    Array<string>(rows).fill(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).join(', ') +
    ')',
  /** Insert of `rows` jobs that share their settings: named parameters for those, (payload, run-at) pairs a row. */
  jobInsertShared: (rows: number) =>
    `INSERT INTO offload_jobs (queue, task, payload, state, priority, run_at, max_attempts, timeout_ms, callback_url, created_at, flow_key, flow_strict, meta, tags) ` +
    `SELECT @queue, @task, column1, 'queued', @priority, column2, @maxAttempts, @timeoutMs, @callbackUrl, @now, ${flowKeyOf('@key', '@queue')}, ${flowStrictOf('@queue')}, @meta, @tags FROM (VALUES ` +
    Array<string>(rows).fill('(?, ?)').join(', ') +
    ')',
  /** The tags of new jobs (migration 10): @pairs is a JSON array of [job id, tag]. */
  jobTagsInsert: `INSERT OR IGNORE INTO offload_job_tags (tag, job_id) SELECT value ->> 1, value ->> 0 FROM json_each(@pairs)`,
  jobByIdempotencyKey: `SELECT * FROM offload_jobs WHERE idempotency_key = ?`,
  /** The delivery jobs the webhook trigger made for these ended jobs (@ids: a JSON array). */
  jobWebhookIds: `SELECT webhook_job_id AS id, run_at FROM offload_jobs WHERE id IN (SELECT value FROM json_each(@ids)) AND webhook_job_id IS NOT NULL`,
  jobByUniqueKey: `SELECT * FROM offload_jobs WHERE unique_key = ? AND state IN ('queued','running')`,
  jobGet: `SELECT * FROM offload_jobs WHERE id = ? AND ${NOT_TOMBSTONE}`,
  /** @startedAt: now for jobs that start at once, null for jobs claimed ahead. */
  jobClaim: `
    UPDATE offload_jobs
       SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = @workerId,
           lease_expires_at = @now + @leaseMs, started_at = @startedAt, slot = 0
     WHERE id IN (
       SELECT id FROM offload_jobs INDEXED BY offload_jobs_claim
        WHERE state = 'queued' AND queue = @queue AND run_at <= @now
          AND task IN (SELECT value FROM json_each(@tasks))
        ORDER BY priority DESC, run_at, id
        LIMIT @limit)
    RETURNING *`,
  queuePaused: `SELECT name FROM offload_queues WHERE paused = 1`,
  jobRenewLease: `UPDATE offload_jobs SET lease_expires_at = @expiresAt WHERE ${LEASE_MATCH}`,
  jobSucceed: `
    UPDATE offload_jobs SET state = 'succeeded', result = @result, finished_at = @now, end_seq = ${NEXT_END_SEQ}, ${RUN_FACTS}, ${CLEAR_LEASE}
     WHERE ${LEASE_MATCH}
    RETURNING ${EVENT_COLUMNS}`,
  /** Successes of one worker in one statement: @leases is a JSON array of [id, fence, result, placement, outputTail, progress, startedAt]. */
  jobSucceedMany: `
    UPDATE offload_jobs SET state = 'succeeded', result = done.value ->> 2, finished_at = @now, end_seq = ${NEXT_END_SEQ},
           placement = done.value ->> 3, output_tail = done.value ->> 4,
           progress = coalesce(done.value ->> 5, progress), started_at = coalesce(started_at, done.value ->> 6, @now), ${CLEAR_LEASE}
      FROM json_each(@leases) AS done
     WHERE offload_jobs.id = done.value ->> 0 AND state = 'running'
       AND lease_owner = @workerId AND fence = done.value ->> 1
    RETURNING offload_jobs.id, queue, task, attempts, callback_url IS NOT NULL AS hooked`,
  jobRetryLater: `
    UPDATE offload_jobs SET state = 'queued', run_at = @runAt, error = @error, errors = ${appendError('@entry')}, ${RUN_FACTS}, ${CLEAR_LEASE}
     WHERE ${LEASE_MATCH}
    RETURNING id, queue, task, attempts`,
  jobFailForGood: `
    UPDATE offload_jobs SET state = 'failed', error = @error, errors = ${appendError('@entry')}, finished_at = @now, end_seq = ${NEXT_END_SEQ}, ${RUN_FACTS}, ${CLEAR_LEASE}
     WHERE ${LEASE_MATCH}
    RETURNING ${EVENT_COLUMNS}`,
  jobRequeueUncounted: `
    UPDATE offload_jobs SET state = 'queued', run_at = @runAt, attempts = attempts - 1, ${RUN_FACTS}, ${CLEAR_LEASE}
     WHERE ${LEASE_MATCH}
    RETURNING id, queue, task, attempts, flow_key`,
  jobSetProgress: `UPDATE offload_jobs SET progress = @progress WHERE ${LEASE_MATCH} RETURNING id, queue, task, attempts`,
  /** Claimed jobs of one worker start (from now on they read as running): @leases is a JSON array of [id, fence]. */
  jobStartMany: `
    UPDATE offload_jobs SET started_at = @now
      FROM json_each(@leases) AS started
     WHERE offload_jobs.id = started.value ->> 0 AND state = 'running' AND started_at IS NULL
       AND lease_owner = @workerId AND fence = started.value ->> 1
    RETURNING offload_jobs.id, queue, task, attempts`,
  jobCancel: `
    UPDATE offload_jobs SET state = 'cancelled', finished_at = @now, end_seq = ${NEXT_END_SEQ}, ${CLEAR_LEASE}
     WHERE id = @id AND state IN ('queued','running')
    RETURNING *`,
  /** A job of a queue limited (or strict) since it ended gets the flow columns an enqueue would give it now. */
  jobRetry: `
    UPDATE offload_jobs SET state = 'queued', attempts = 0, run_at = @now, finished_at = NULL, result = NULL,
           ${FLOW_REQUEUE}
     WHERE id = @id AND state IN ('failed','cancelled')
    RETURNING *`,
  jobRecoverExpired: `
    UPDATE offload_jobs
       SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN @now ELSE NULL END,
           end_seq = CASE WHEN attempts >= max_attempts THEN ${NEXT_END_SEQ} ELSE end_seq END,
           run_at = @now,
           error = json_object('name', 'OffloadError', 'code', 'ERR_WORKER_DIED', 'attempt', attempts, 'message', ${WORKER_DIED_MESSAGE}),
           errors = ${appendError(`json_object('attempt', attempts, 'at', @now, 'name', 'OffloadError', 'message', ${WORKER_DIED_MESSAGE}, 'code', 'ERR_WORKER_DIED')`)},
           ${CLEAR_LEASE}
     WHERE state = 'running' AND lease_expires_at < @now
    RETURNING ${EVENT_COLUMNS}, state, error, run_at`,
  /**
   * Keeps the newest job whatever its age: SQLite hands out max(id) + 1, so deleting the newest
   * jobs would give their ids to the next ones, and a client or webhook receiver holding an old id
   * would see another job. (AUTOINCREMENT would also do, at the price of a second page written by
   * every commit.) Every delete of jobs must keep this rule.
   */
  jobDeleteFinished: `
    DELETE FROM offload_jobs WHERE id IN (
      SELECT id FROM offload_jobs
       WHERE state IN ('succeeded','failed','cancelled') AND finished_at < @before
         AND id < (SELECT max(id) FROM offload_jobs)
       ORDER BY id
       LIMIT @limit)`,
  /**
   * The earliest run-at after @after of a queue's waiting jobs of @tasks: one seek per priority
   * level of the claim index (a skip scan), so it costs the same behind a backlog of any size.
   */
  jobNextRunAt: `
    WITH RECURSIVE levels(priority) AS (
      SELECT (SELECT priority FROM offload_jobs INDEXED BY offload_jobs_claim
               WHERE state = 'queued' AND queue = @queue ORDER BY priority DESC LIMIT 1)
      UNION ALL
      SELECT (SELECT priority FROM offload_jobs INDEXED BY offload_jobs_claim
               WHERE state = 'queued' AND queue = @queue AND priority < levels.priority
               ORDER BY priority DESC LIMIT 1)
        FROM levels WHERE levels.priority IS NOT NULL
    )
    SELECT min((SELECT run_at FROM offload_jobs INDEXED BY offload_jobs_claim
                 WHERE state = 'queued' AND queue = @queue AND priority = levels.priority
                   AND run_at > @after AND task IN (SELECT value FROM json_each(@tasks))
                 ORDER BY run_at LIMIT 1)) AS runAt
      FROM levels WHERE levels.priority IS NOT NULL`,
  queueSetPaused: `
    INSERT INTO offload_queues (name, paused) VALUES (@name, @paused)
    ON CONFLICT (name) DO UPDATE SET paused = excluded.paused`,
  queueNames: `SELECT DISTINCT queue AS name FROM offload_jobs WHERE ${NOT_TOMBSTONE} UNION SELECT name FROM offload_queues`,
  taskUpsert: `
    INSERT INTO offload_tasks (name, queue, mode, attempts, priority, timeout_ms, updated_at)
    VALUES (@name, @queue, @mode, @attempts, @priority, @timeout, @now)
    ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, mode = excluded.mode, attempts = excluded.attempts,
      priority = excluded.priority, timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at`,
  taskList: `SELECT name, queue, mode, attempts, priority, timeout_ms AS timeout FROM offload_tasks ORDER BY name`,
  settingGet: `SELECT value FROM offload_settings WHERE key = ?`,
  settingSet: `INSERT INTO offload_settings (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
  settingInit: `INSERT INTO offload_settings (key, value) VALUES (@key, @value) ON CONFLICT (key) DO NOTHING`,
  tokenCreate: `
    INSERT INTO offload_tokens (id, name, scopes, hash, created_at) VALUES (@id, @name, @scopes, @hash, @now)
    ON CONFLICT (id) DO NOTHING
    RETURNING *`,
  tokenGet: `SELECT * FROM offload_tokens WHERE id = ?`,
  tokenList: `SELECT * FROM offload_tokens ORDER BY created_at, id`,
  tokenRevoke: `UPDATE offload_tokens SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL`,
  workerUpsert: `
    INSERT INTO offload_workers (id, host, pid, modes, queues, running, started_at, last_heartbeat)
    VALUES (@id, @host, @pid, @modes, @queues, @running, @startedAt, @lastHeartbeat)
    ON CONFLICT (id) DO UPDATE SET modes = excluded.modes, queues = excluded.queues, running = excluded.running,
      last_heartbeat = excluded.last_heartbeat`,
  workerForget: `DELETE FROM offload_workers WHERE last_heartbeat < ?`,
  workerRemove: `DELETE FROM offload_workers WHERE id = ?`,
  workerList: `SELECT * FROM offload_workers WHERE last_heartbeat >= ? ORDER BY id`,
  tokenTouch: `UPDATE offload_tokens SET last_used_at = @now WHERE id = @id AND (last_used_at IS NULL OR last_used_at <= @now - @minIntervalMs)`,
} as const;

/** WHERE clause of a filter by queue, task and (derived) state, with named parameters. */
export function filterClause(filter: {
  queue?: string;
  task?: string;
  state?: string;
  tag?: string;
}): string {
  const parts: string[] = [];
  if (filter.tag !== undefined)
    parts.push('id IN (SELECT job_id FROM offload_job_tags WHERE tag = @tag)');
  if (filter.queue !== undefined) parts.push('queue = @queue');
  else parts.push(NOT_TOMBSTONE);
  if (filter.task !== undefined) parts.push('task = @task');
  if (filter.state === 'scheduled') parts.push(`state = 'queued' AND run_at > @now`);
  else if (filter.state === 'queued') parts.push(`state = 'queued' AND run_at <= @now`);
  else if (filter.state === 'claimed') parts.push(`state = 'running' AND started_at IS NULL`);
  else if (filter.state === 'running') parts.push(`state = 'running' AND started_at IS NOT NULL`);
  else if (filter.state !== undefined) parts.push('state = @state');
  return parts.join(' AND ');
}
