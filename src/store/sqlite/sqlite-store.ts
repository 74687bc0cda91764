import type Database from 'better-sqlite3';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.ts';
import { ErrorCodes, OffloadError, type SerializedError } from '../../core/errors.ts';
import type { ClaimedJob, Job, JobState } from '../../core/job.ts';
import { optionSchemas, parseOptions } from '../../core/options.ts';
import {
  emptyCounts,
  type BulkAction,
  type BulkFilter,
  type BulkRecord,
  type BulkState,
  type ClaimParams,
  type DeadLetterGroup,
  type DeadLetterParams,
  type EnqueueContext,
  type EnqueueParams,
  type EnqueueResult,
  type JobFilter,
  type JobListParams,
  type JobOutcome,
  type JobUpdateParams,
  type LeaseRef,
  type LimitsLayer,
  type LimitsState,
  type QueueLimits,
  type QueueInfo,
  type RenewParams,
  type Store,
  type StoreEvents,
  type TaskInfo,
  type TokenRecord,
  WEBHOOK_QUEUE,
  WEBHOOK_TASK,
  type WorkerRecord,
} from '../contract.ts';
import { StoreEventHub } from '../events.ts';
import { checkOutcomes } from '../outcome-check.ts';
import {
  attemptErrorEntry,
  claimedFromRow,
  claimOrder,
  eventOf,
  eventOfRow,
  jobFromRow,
  workerFromRow,
  type JobRow,
  type WorkerRow,
} from '../row.ts';
import { SqliteBulk } from './bulk.ts';
import { SqliteEnqueuer } from './enqueuer.ts';
import { SqliteChangeWatch } from './change-watch.ts';
import { SqliteFlow } from './flow.ts';
import { SqliteJobEdit } from './job-edit.ts';
import { openDatabase, storageError } from './open-database.ts';
import { filterClause, sql, stateExpression } from './queries.ts';

export interface SqliteStoreOptions {
  /** Path of the database file; created with its folder if missing. Default `./.offload/offload.db`. */
  path?: string;
  /**
   * `normal` (default): WAL with synchronous=NORMAL: a process crash loses nothing; a power cut or
   * kernel crash may lose the last commits. `full`: fsync on every commit, slower.
   */
  durability?: 'normal' | 'full';
  /**
   * How often (ms) to look for commits by other processes, which are announced as `store:changed`
   * naming the jobs that ended since the last look. Cheap: it reads SQLite's data_version, and the
   * ends by one indexed range only when that moved. Default 5; 0 turns it off.
   */
  watchInterval?: number;
  /**
   * How often (ms) to copy the write-ahead log into the database file (a passive checkpoint), off
   * the commit path. Default 1000. 0 leaves it to SQLite, which checkpoints inside the commit that
   * grows the log past 1000 pages (a few ms on that commit). See docs/internals.md.
   */
  checkpointInterval?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

const optionsSchema = z.object({
  path: z.string().min(1, 'must be a file path').default('./.offload/offload.db'),
  durability: z.enum(['normal', 'full']).default('normal'),
  watchInterval: optionSchemas.timerMs.default(5),
  checkpointInterval: optionSchemas.timerMs.default(1000),
  clock: z
    .custom<Clock>(
      (value) => typeof (value as Clock)?.now === 'function',
      'must have a now() method',
    )
    .optional(),
});

type Statement = Database.Statement<unknown[], unknown>;
const SUCCESS_CHUNK = 500;
/** After a burst has grown the log file, it is cut back to this size once it is all checkpointed. */
const WAL_KEEP_BYTES = 16 * 1024 * 1024;

type EventRow = { id: number; queue: string; task: string; attempts: number; hooked?: number };
/** Workers silent for this long leave the registry. */
const WORKER_FORGET_MS = 3_600_000;

type TokenRow = {
  id: string;
  name: string;
  scopes: string;
  hash: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
};

/**
 * The embedded store: one SQLite file (WAL) shared safely by any number of processes on one
 * machine. SQLite serialises writers, so a claim is one atomic UPDATE and two claims never overlap.
 */
export class SqliteStore implements Store {
  readonly description: string;
  readonly clock: Clock;
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #events = new StoreEventHub();
  readonly #statements = new Map<string, Statement>();
  readonly #enqueuer: SqliteEnqueuer;
  readonly #flow: SqliteFlow;
  readonly #bulk: SqliteBulk;
  #watch: SqliteChangeWatch | undefined;
  readonly #edit: SqliteJobEdit;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SqliteStoreOptions = {}) {
    const parsed = parseOptions('createSqliteStore', optionsSchema, options);
    this.clock = parsed.clock ?? systemClock;
    this.#db = openDatabase(parsed.path, parsed.durability);
    this.#file = parsed.path;
    this.description = `sqlite:${parsed.path}`;
    this.#enqueuer = new SqliteEnqueuer({
      db: this.#db,
      file: this.#file,
      clock: this.clock,
      events: this.#events,
      statement: (text) => this.#statement(text),
      write: (work) => this.#write(work),
      assertOpen: () => this.#assertOpen(),
    });
    this.#flow = new SqliteFlow({ statement: (text) => this.#statement(text) });
    this.#bulk = new SqliteBulk({
      clock: this.clock,
      events: this.#events,
      statement: (text) => this.#statement(text),
      write: (work) => this.#write(work),
    });
    this.#edit = new SqliteJobEdit({
      clock: this.clock,
      events: this.#events,
      statement: (text) => this.#statement(text),
      write: (work) => this.#write(work),
      stateError: (id, action, allowed) => this.#stateError(id, action, allowed),
    });
    if (parsed.watchInterval > 0) {
      this.#watch = new SqliteChangeWatch({
        db: this.#db,
        events: this.#events,
        intervalMs: parsed.watchInterval,
      });
      this.#watch.start();
    }
    if (parsed.checkpointInterval > 0) this.#startCheckpoints(parsed.checkpointInterval);
    mapStorageErrors(this, (error) => storageError(error, this.#file));
  }

  async jobEnqueue(params: EnqueueParams, context?: EnqueueContext): Promise<EnqueueResult> {
    refuseClient(context);
    if (params.uniqueKey !== null || params.idempotencyKey !== null)
      return (await this.jobEnqueueMany([params]))[0]!;
    return this.#enqueuer.one(params);
  }

  async jobEnqueueMany(
    params: readonly EnqueueParams[],
    context?: EnqueueContext,
  ): Promise<EnqueueResult[]> {
    refuseClient(context);
    return this.#enqueuer.many(params);
  }

  /** Runs `work` in one IMMEDIATE transaction; a full disk or a damaged file becomes ERR_STORE_FULL or ERR_STORE_CORRUPT. */
  #write<T>(work: () => T): T {
    try {
      return this.#db.transaction(work).immediate();
    } catch (error) {
      throw storageError(error, this.#file);
    }
  }

  async jobClaim(params: ClaimParams): Promise<ClaimedJob[]> {
    this.#assertOpen();
    const now = this.clock.now();
    const tasks = JSON.stringify(params.tasks);
    const claimed = this.#write(() => {
      const paused = this.#pausedQueues();
      const rows: JobRow[] = [];
      const claim = this.#statement(sql.jobClaim);
      const limited = this.#flow.limited();
      for (const queue of params.queues) {
        if (queue.limit <= 0 || paused.has(queue.name)) continue;
        const flow = limited.get(queue.name);
        if (flow) {
          const start = Math.min(queue.start ?? queue.limit, queue.limit);
          const claimed = {
            queue: queue.name,
            limit: queue.limit,
            start,
            workerId: params.workerId,
          };
          rows.push(
            ...this.#flow.claim(
              { ...claimed, now, tasks, leaseMs: params.leaseMs, ended: params.ended },
              flow.limits,
              flow.row,
            ),
          );
          continue;
        }
        const start = Math.min(queue.start ?? queue.limit, queue.limit);
        const base = {
          workerId: params.workerId,
          leaseMs: params.leaseMs,
          queue: queue.name,
          tasks,
          now,
        };
        const starting =
          start > 0 ? (claim.all({ ...base, limit: start, startedAt: now }) as JobRow[]) : [];
        rows.push(...starting);
        // A queue that could not fill its free slots has nothing to claim ahead: no second statement.
        if (queue.limit > start && starting.length === start)
          rows.push(
            ...(claim.all({ ...base, limit: queue.limit - start, startedAt: null }) as JobRow[]),
          );
      }
      return rows;
    });
    const jobs = claimed.map((row) => claimedFromRow(row, now)).sort(claimOrder);
    if (this.#events.listens('job:started'))
      for (const job of jobs) this.#events.emit('job:started', eventOf(job));
    return jobs;
  }

  #pausedQueues(): Set<string> {
    const rows = this.#statement(sql.queuePaused).all() as Array<{ name: string }>;
    return new Set(rows.map((row) => row.name));
  }

  async jobRenewLeases(params: RenewParams): Promise<string[]> {
    this.#assertOpen();
    const expiresAt = this.clock.now() + params.leaseMs;
    const renew = this.#statement(sql.jobRenewLease);
    return this.#write(() =>
      params.leases
        .filter((lease) => renew.run({ ...lease, expiresAt }).changes === 0)
        .map((lease) => lease.id),
    );
  }

  /** One transaction per call: an invalid outcome refuses the call before anything is written. */
  async jobRecordOutcomes(outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    this.#assertOpen();
    checkOutcomes(outcomes);
    const now = this.clock.now();
    const recorded = this.#write(() => {
      const rows = new Array<EventRow | undefined>(outcomes.length);
      const successes: number[] = [];
      const starts: number[] = [];
      outcomes.forEach((outcome, i) => {
        if (outcome.kind === 'succeeded') successes.push(i);
        else if (outcome.kind === 'started') starts.push(i);
      });
      // Starts first: a run that started and ended in this batch is marked started, then ended.
      this.#recordByWorker(sql.jobStartMany, outcomes, starts, rows, now, (outcome) => [
        Number(outcome.lease.id),
        outcome.lease.fence,
      ]);
      outcomes.forEach((outcome, i) => {
        if (outcome.kind !== 'succeeded' && outcome.kind !== 'started')
          rows[i] = this.#recordOutcome(outcome, now);
      });
      this.#recordByWorker(sql.jobSucceedMany, outcomes, successes, rows, now, (outcome) => {
        const { lease, result, placement, outputTail, progress, startedAt } = outcome as Extract<
          JobOutcome,
          { kind: 'succeeded' }
        >;
        return [
          Number(lease.id),
          lease.fence,
          result,
          placement ?? null,
          outputTail ?? null,
          progress ?? null,
          startedAt ?? null,
        ];
      });
      return { rows, deliveries: this.#deliveries(rows) };
    });
    const accepted = recorded.rows.map((row, i) => {
      if (row) this.#events.emitOutcome(outcomes[i]!, row);
      return row !== undefined;
    });
    this.#announceDeliveries(recorded.deliveries);
    return accepted;
  }

  /**
   * Successes, and starts of jobs claimed ahead, go in one statement per worker and chunk (the hot
   * path of a busy queue): `statement` takes @leases, a JSON array of `item(outcome)`, and returns
   * the rows it changed.
   */
  #recordByWorker(
    statement: string,
    outcomes: readonly JobOutcome[],
    indexes: number[],
    rows: Array<EventRow | undefined>,
    now: number,
    item: (outcome: JobOutcome) => unknown[],
  ): void {
    if (indexes.length === 0) return;
    const byWorker = new Map<string, number[]>();
    for (const i of indexes) {
      const workerId = outcomes[i]!.lease.workerId;
      const list = byWorker.get(workerId);
      if (list) list.push(i);
      else byWorker.set(workerId, [i]);
    }
    const prepared = this.#statement(statement);
    for (const [workerId, all] of byWorker) {
      for (let start = 0; start < all.length; start += SUCCESS_CHUNK) {
        const chunk = all.slice(start, start + SUCCESS_CHUNK);
        const updated = prepared.all({
          leases: JSON.stringify(chunk.map((i) => item(outcomes[i]!))),
          workerId,
          now,
        }) as EventRow[];
        const byId = new Map(updated.map((row) => [String(row.id), row]));
        for (const i of chunk) rows[i] = byId.get(outcomes[i]!.lease.id);
      }
    }
  }

  #recordOutcome(outcome: JobOutcome, now: number): EventRow | undefined {
    const lease = {
      ...leaseParams(outcome.lease),
      placement: outcome.placement ?? null,
      outputTail: outcome.outputTail ?? null,
      progress: outcome.progress ?? null,
      startedAt: outcome.startedAt ?? null,
      now,
    };
    switch (outcome.kind) {
      case 'succeeded':
        return this.#statement(sql.jobSucceed).get({ ...lease, result: outcome.result, now }) as
          EventRow | undefined;
      case 'failed': {
        const error = JSON.stringify({ ...outcome.error, attempt: outcome.lease.attempt });
        const entry = JSON.stringify(attemptErrorEntry(outcome.error, outcome.lease.attempt, now));
        if (outcome.retryAt === null) {
          return this.#statement(sql.jobFailForGood).get({ ...lease, error, entry, now }) as
            EventRow | undefined;
        }
        return this.#statement(sql.jobRetryLater).get({
          ...lease,
          error,
          entry,
          runAt: outcome.retryAt,
        }) as EventRow | undefined;
      }
      case 'snoozed':
        return this.#statement(sql.jobRequeueUncounted).get({ ...lease, runAt: outcome.runAt }) as
          EventRow | undefined;
      case 'released':
        return this.#statement(sql.jobRequeueUncounted).get({ ...lease, runAt: now }) as
          EventRow | undefined;
      case 'rateLimited': {
        const row = this.#statement(sql.jobRequeueUncounted).get({
          ...lease,
          runAt: outcome.runAt,
        }) as (EventRow & { flow_key: string | null }) | undefined;
        if (row) this.#flow.hold(row.queue, row.flow_key, outcome.runAt);
        return row;
      }
    }
  }

  /** The delivery jobs the webhook trigger made for the ended rows that have a callback URL. */
  #deliveries(rows: ReadonlyArray<EventRow | undefined>): Array<{ id: number; run_at: number }> {
    const ids = rows.filter((row) => row?.hooked).map((row) => row!.id);
    if (ids.length === 0) return [];
    return this.#statement(sql.jobWebhookIds).all({ ids: JSON.stringify(ids) }) as Array<{
      id: number;
      run_at: number;
    }>;
  }

  #announceDeliveries(deliveries: ReadonlyArray<{ id: number }>): void {
    for (const { id } of deliveries) {
      this.#events.emit('job:enqueued', {
        id: String(id),
        queue: WEBHOOK_QUEUE,
        task: WEBHOOK_TASK,
        state: 'queued',
        attempt: 0,
      });
    }
  }

  async jobSetProgress(params: LeaseRef & { progress: string }): Promise<boolean> {
    this.#assertOpen();
    const row = this.#statement(sql.jobSetProgress).get({
      ...leaseParams(params),
      progress: params.progress,
    }) as EventRow | undefined;
    if (row) {
      this.#events.emit('job:progress', {
        ...eventOfRow(row, 'running'),
        progress: JSON.parse(params.progress) as unknown,
      });
    }
    return row !== undefined;
  }

  async jobCancel(params: { id: string }): Promise<Job> {
    this.#assertOpen();
    const now = this.clock.now();
    let row = this.#statement(sql.jobCancel).get({ id: params.id, now }) as JobRow | undefined;
    if (!row) throw this.#stateError(params.id, 'cancel', 'scheduled, queued or running');
    // RETURNING shows the row before the webhook trigger ran: read it again to see the delivery job.
    if (row.callback_url !== null) row = this.#statement(sql.jobGet).get(params.id) as JobRow;
    const job = jobFromRow(row, now);
    this.#events.emit('job:cancelled', eventOf(job));
    if (job.webhookJobId !== null) this.#announceDeliveries([{ id: Number(job.webhookJobId) }]);
    return job;
  }

  async jobRetry(params: { id: string }): Promise<Job> {
    this.#assertOpen();
    const now = this.clock.now();
    let row: JobRow | undefined;
    try {
      row = this.#statement(sql.jobRetry).get({ id: params.id, now }) as JobRow | undefined;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      throw new OffloadError(
        ErrorCodes.JOB_STATE,
        `job ${params.id} cannot be retried: another unfinished job has the same unique key; wait for it or cancel it`,
        { details: { id: params.id } },
      );
    }
    if (!row) throw this.#stateError(params.id, 'retry', 'failed or cancelled');
    const job = jobFromRow(row, now);
    this.#events.emit('job:enqueued', eventOf(job));
    return job;
  }

  async jobUpdate(params: JobUpdateParams): Promise<Job> {
    this.#assertOpen();
    return this.#edit.update(params);
  }

  async jobRemove(params: { id: string }): Promise<Job> {
    this.#assertOpen();
    return this.#edit.remove(params);
  }

  async jobGet(params: { id: string }): Promise<Job | undefined> {
    this.#assertOpen();
    const row = this.#statement(sql.jobGet).get(params.id) as JobRow | undefined;
    return row && jobFromRow(row, this.clock.now());
  }

  async jobList(params: JobListParams): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    this.#assertOpen();
    const limit = Math.min(Math.max(params.limit ?? 50, 1), 1000);
    const now = this.clock.now();
    const cursor = params.cursor ? ' AND id < @cursor' : '';
    const text = `SELECT * FROM offload_jobs WHERE ${filterClause(params)}${cursor} ORDER BY id DESC LIMIT @limit`;
    const rows = this.#statement(text).all({
      ...filterParams(params, now),
      cursor: params.cursor ?? null,
      limit: limit + 1,
    }) as JobRow[];
    const page = rows.slice(0, limit).map((row) => jobFromRow(row, now));
    return { jobs: page, nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
  }

  async jobCount(params: JobFilter): Promise<Record<JobState, number>> {
    this.#assertOpen();
    const now = this.clock.now();
    const text = `SELECT ${stateExpression} AS state, count(*) AS n FROM offload_jobs WHERE ${filterClause(params)} GROUP BY 1`;
    const counts = emptyCounts();
    for (const row of this.#statement(text).all(filterParams(params, now)) as Array<{
      state: JobState;
      n: number;
    }>) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  async jobRecoverExpired(): Promise<{ requeued: string[]; failed: string[] }> {
    this.#assertOpen();
    const now = this.clock.now();
    const rows = this.#statement(sql.jobRecoverExpired).all({ now }) as Array<
      EventRow & { state: 'queued' | 'failed'; error: string; run_at: number }
    >;
    const deliveries = this.#deliveries(rows);
    const requeued: string[] = [];
    const failed: string[] = [];
    for (const row of rows) {
      const error = JSON.parse(row.error) as SerializedError;
      if (row.state === 'failed') {
        failed.push(String(row.id));
        this.#events.emit('job:failed', { ...eventOfRow(row, 'failed'), error });
      } else {
        requeued.push(String(row.id));
        this.#events.emit('job:retrying', {
          ...eventOfRow(row, 'queued'),
          error,
          runAt: row.run_at,
        });
      }
    }
    this.#announceDeliveries(deliveries);
    return { requeued, failed };
  }

  async jobDeleteFinished(params: { before: number; limit?: number }): Promise<number> {
    this.#assertOpen();
    return this.#statement(sql.jobDeleteFinished).run({
      before: params.before,
      limit: params.limit ?? 10_000,
    }).changes;
  }

  async jobBulkCount(params: { action: BulkAction; filter: BulkFilter }): Promise<number> {
    this.#assertOpen();
    return this.#bulk.count(params.action, params.filter);
  }

  async jobBulkCreate(params: { action: BulkAction; filter: BulkFilter }): Promise<BulkRecord> {
    this.#assertOpen();
    return this.#bulk.create(params.action, params.filter);
  }

  async jobBulkStep(params: {
    id: string;
    owner: string;
    leaseMs: number;
    limit?: number;
  }): Promise<BulkRecord | null> {
    this.#assertOpen();
    return this.#bulk.step(params);
  }

  async jobBulkInterrupt(params: { id: string; error: string }): Promise<boolean> {
    this.#assertOpen();
    return this.#bulk.interrupt(params.id, params.error);
  }

  async jobBulkGet(params: { id: string }): Promise<BulkRecord | undefined> {
    this.#assertOpen();
    return this.#bulk.get(params.id);
  }

  async jobBulkList(params: { state?: BulkState }): Promise<BulkRecord[]> {
    this.#assertOpen();
    return this.#bulk.list(params.state);
  }

  async jobDeadLetters(params: DeadLetterParams): Promise<DeadLetterGroup[]> {
    this.#assertOpen();
    return this.#bulk.deadLetters(params);
  }

  async jobNextRunAt(params: {
    queues: readonly string[];
    tasks: readonly string[];
  }): Promise<number | null> {
    this.#assertOpen();
    const now = this.clock.now();
    const tasks = JSON.stringify(params.tasks);
    const limited = this.#flow.limited();
    const paused = this.#pausedQueues();
    const nextRunAt = this.#statement(sql.jobNextRunAt);
    // A limited queue's due jobs wait for a slot (a job end wakes the worker) or a token: its
    // next wake is a scheduled run-at or a window or hold running out, never "now".
    const wakes = params.queues
      .filter((queue) => !paused.has(queue))
      .map((queue) => {
        const flow = limited.get(queue);
        if (flow) return this.#flow.nextWake(queue, flow.row, tasks, now);
        return (nextRunAt.get({ queue, tasks, after: -Infinity }) as { runAt: number | null })
          .runAt;
      })
      .filter((at): at is number => at !== null);
    return wakes.length ? Math.min(...wakes) : null;
  }

  async limitsSet(params: {
    queue: string;
    layer: LimitsLayer;
    limits: QueueLimits | null;
  }): Promise<void> {
    this.#assertOpen();
    this.#write(() => this.#flow.set(params.queue, params.layer, params.limits, this.clock.now()));
    this.#events.emit('store:changed', {});
  }

  async limitsGet(params: { queue: string }): Promise<LimitsState | undefined> {
    this.#assertOpen();
    return this.#flow.get(params.queue, this.clock.now());
  }

  async limitsList(): Promise<LimitsState[]> {
    this.#assertOpen();
    return this.#flow.list(this.clock.now());
  }

  async queuePause(params: { name: string }): Promise<void> {
    this.#assertOpen();
    this.#statement(sql.queueSetPaused).run({ name: params.name, paused: 1 });
  }

  async queueResume(params: { name: string }): Promise<void> {
    this.#assertOpen();
    this.#statement(sql.queueSetPaused).run({ name: params.name, paused: 0 });
    this.#events.emit('store:changed', {});
  }

  async queueList(): Promise<QueueInfo[]> {
    this.#assertOpen();
    const now = this.clock.now();
    const paused = new Set(
      (this.#statement(sql.queuePaused).all() as Array<{ name: string }>).map((r) => r.name),
    );
    const names = (this.#statement(sql.queueNames).all() as Array<{ name: string }>)
      .map((r) => r.name)
      .sort();
    const counted = this.#statement(
      `SELECT queue, ${stateExpression} AS state, count(*) AS n FROM offload_jobs WHERE ${filterClause({})} GROUP BY 1, 2`,
    ).all({ now }) as Array<{ queue: string; state: JobState; n: number }>;
    const byQueue = new Map(names.map((name) => [name, emptyCounts()]));
    for (const row of counted) byQueue.get(row.queue)![row.state] = row.n;
    return names.map((name) => ({ name, paused: paused.has(name), counts: byQueue.get(name)! }));
  }

  async taskRegister(params: { tasks: readonly TaskInfo[] }): Promise<void> {
    this.#assertOpen();
    const now = this.clock.now();
    const upsert = this.#statement(sql.taskUpsert);
    this.#db
      .transaction(() => {
        for (const task of params.tasks) upsert.run({ ...task, now });
      })
      .immediate();
  }

  async taskList(): Promise<TaskInfo[]> {
    this.#assertOpen();
    return this.#statement(sql.taskList).all() as TaskInfo[];
  }

  async workerHeartbeat(params: WorkerRecord): Promise<void> {
    this.#assertOpen();
    this.#db
      .transaction(() => {
        this.#statement(sql.workerUpsert).run({
          ...params,
          modes: JSON.stringify(params.modes),
          queues: JSON.stringify(params.queues),
        });
        this.#statement(sql.workerForget).run(params.lastHeartbeat - WORKER_FORGET_MS);
      })
      .immediate();
  }

  async workerRemove(params: { id: string }): Promise<void> {
    this.#assertOpen();
    this.#statement(sql.workerRemove).run(params.id);
  }

  async workerList(params: { since: number }): Promise<WorkerRecord[]> {
    this.#assertOpen();
    return (this.#statement(sql.workerList).all(params.since) as WorkerRow[]).map(workerFromRow);
  }

  async settingGet(params: { key: string }): Promise<string | undefined> {
    this.#assertOpen();
    return (this.#statement(sql.settingGet).get(params.key) as { value: string } | undefined)
      ?.value;
  }

  async settingSet(params: { key: string; value: string }): Promise<void> {
    this.#assertOpen();
    this.#statement(sql.settingSet).run({ key: params.key, value: params.value });
  }

  async settingInit(params: { key: string; value: string }): Promise<string> {
    this.#assertOpen();
    this.#statement(sql.settingInit).run({ key: params.key, value: params.value });
    return (this.#statement(sql.settingGet).get(params.key) as { value: string }).value;
  }

  async tokenCreate(params: {
    id: string;
    name: string;
    scopes: readonly string[];
    hash: string;
  }): Promise<TokenRecord> {
    this.#assertOpen();
    const row = this.#statement(sql.tokenCreate).get({
      id: params.id,
      name: params.name,
      scopes: JSON.stringify(params.scopes),
      hash: params.hash,
      now: this.clock.now(),
    }) as TokenRow | undefined;
    if (!row)
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `a token with id ${params.id} exists already; create it again for a new id`,
      );
    return tokenFromRow(row);
  }

  async tokenGet(params: { id: string }): Promise<TokenRecord | undefined> {
    this.#assertOpen();
    const row = this.#statement(sql.tokenGet).get(params.id) as TokenRow | undefined;
    return row && tokenFromRow(row);
  }

  async tokenList(): Promise<TokenRecord[]> {
    this.#assertOpen();
    return (this.#statement(sql.tokenList).all() as TokenRow[]).map(tokenFromRow);
  }

  async tokenRevoke(params: { id: string }): Promise<boolean> {
    this.#assertOpen();
    return (
      this.#statement(sql.tokenRevoke).run({ id: params.id, now: this.clock.now() }).changes > 0
    );
  }

  async tokenTouch(params: { id: string; minIntervalMs?: number }): Promise<void> {
    this.#assertOpen();
    this.#statement(sql.tokenTouch).run({
      id: params.id,
      now: this.clock.now(),
      minIntervalMs: params.minIntervalMs ?? 60_000,
    });
  }

  on<E extends keyof StoreEvents>(
    event: E,
    listener: (payload: StoreEvents[E]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#enqueuer.commitPending();
    this.#closed = true;
    this.#watch?.stop();
    clearInterval(this.#checkpointTimer);
    this.#events.clear();
    this.#db.close();
  }

  /**
   * Commits stop paying for checkpoints: this connection's automatic one is off and a timer runs a
   * PASSIVE checkpoint instead (it never waits for readers or writers). The log is copied back every
   * interval, so it stays bounded by what is written in one interval (or held by a long reader).
   */
  #startCheckpoints(intervalMs: number): void {
    this.#db.pragma('wal_autocheckpoint = 0');
    this.#db.pragma(`journal_size_limit = ${WAL_KEEP_BYTES}`);
    const checkpoint = this.#db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    this.#checkpointTimer = setInterval(() => {
      try {
        checkpoint.run();
      } catch (error) {
        // Busy (another process checkpoints or writes): the next tick tries again.
        if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY') !== true) throw error;
      }
    }, intervalMs);
    this.#checkpointTimer.unref();
  }

  #statement(text: string): Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #stateError(id: string, action: string, allowed: string): OffloadError {
    const job = this.#statement(sql.jobGet).get(id) as JobRow | undefined;
    if (!job)
      return new OffloadError(ErrorCodes.JOB_NOT_FOUND, `no job with id ${id}`, {
        details: { id },
      });
    const state = jobFromRow(job, this.clock.now()).state;
    return new OffloadError(
      ErrorCodes.JOB_STATE,
      `job ${id} is ${state}; only ${allowed} jobs can ${action}`,
      {
        details: { id, state },
      },
    );
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new OffloadError(ErrorCodes.STORE_CLOSED, `${this.description} is closed`);
  }
}

/** Opens the embedded SQLite store. See {@link SqliteStoreOptions} for defaults. */
export function createSqliteStore(options?: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

/**
 * Every store method (but `on` and `close`) rejects with ERR_STORE_FULL or ERR_STORE_CORRUPT, never
 * a raw SQLite error, when the disk is full or the file damaged: one path for every statement.
 */
function mapStorageErrors(store: SqliteStore, map: (error: unknown) => unknown): void {
  const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of Object.getOwnPropertyNames(SqliteStore.prototype)) {
    if (name === 'constructor' || name === 'on' || name === 'close') continue;
    const method = methods[name]!;
    methods[name] = (...args) =>
      method.apply(store, args).then(undefined, (error: unknown) => {
        throw map(error);
      });
  }
}

/** The SQLite store writes through its own connection only. */
function refuseClient(context: EnqueueContext | undefined): void {
  if (context?.client === undefined) return;
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    'enqueue: option `client` (enqueue inside your own transaction) needs the PostgreSQL store; the SQLite store writes through its own connection',
    { details: { option: 'client' } },
  );
}

function tokenFromRow(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    hash: row.hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

function leaseParams(lease: LeaseRef): { id: string; workerId: string; fence: number } {
  return { id: lease.id, workerId: lease.workerId, fence: lease.fence };
}

function filterParams(filter: JobFilter, now: number): Record<string, unknown> {
  return {
    queue: filter.queue ?? null,
    task: filter.task ?? null,
    state: filter.state ?? null,
    tag: filter.tag ?? null,
    now,
  };
}
