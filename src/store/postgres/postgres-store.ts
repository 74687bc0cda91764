import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from '../../core/clock.ts';
import { ErrorCodes, OffloadError, type SerializedError } from '../../core/errors.ts';
import type { ClaimedJob, Job, JobState } from '../../core/job.ts';
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
  type QueueInfo,
  type QueueLimits,
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
import { limitsState } from '../flow-state.ts';
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
import { PostgresBulk } from './bulk.ts';
import { isConnectionError, startError } from './connection-errors.ts';
import { ChangeFeed } from './change-feed.ts';
import { Enqueuer } from './enqueuer.ts';
import { migrate } from './migrate.ts';
import { Notifier } from './notifier.ts';
import { announcedNote, groupedItems, outcomeColumns, type EventRow } from './job-items.ts';
import type { Queryable } from './queryable.ts';
import {
  parsePostgresOptions,
  type ParsedPostgresOptions,
  type PostgresStoreOptions,
} from './postgres-options.ts';
import { bindSql, filterClause, sql, stateExpression, type QueryName } from './queries.ts';
import { SharedFlush } from './shared-flush.ts';

export type { PostgresStoreOptions } from './postgres-options.ts';

const ID_PATTERN = /^[0-9]{1,18}$/;
/**
 * Statements over arrays whose generic plan (what a prepared statement settles on after five runs)
 * is several times slower than a plan made for the actual arrays: always planned afresh.
 */
const PLANNED_EACH_TIME = new Set<QueryName>(['jobRecordOutcomes', 'jobRenewLeases']);

/** What a statement that announces its own change returns besides its rows (queries.ts, `relaxedIf`). */
type Announced = { relaxed?: boolean };

/**
 * The store for many machines: jobs in one PostgreSQL schema, claimed with FOR UPDATE SKIP LOCKED,
 * outcomes written in one statement per batch. Every change is announced with NOTIFY by the
 * statement that makes it (queries.ts), successes just after their commit (notifier.ts), so job
 * events reach every store instance, in every process, each job's in the order they happened. Events from
 * other processes arrive as the job events themselves, plus `store:changed` when work may have
 * become claimable (enqueues, retries, recoveries, resumed queues) and every `pollInterval` ms.
 */
export class PostgresStore implements Store {
  readonly description: string;
  readonly clock: Clock;
  readonly #options: ParsedPostgresOptions;
  readonly #pool: pg.Pool;
  readonly #log: Logger;
  readonly #origin = randomBytes(6).toString('hex');
  readonly #channel: string;
  readonly #sql: Record<QueryName, { text: string; name: string }>;
  readonly #clientSql = new Map<QueryName, string>();
  readonly #events = new StoreEventHub();
  readonly #notifier: Notifier;
  readonly #enqueuer: Enqueuer;
  readonly #feed: ChangeFeed;
  readonly #bulk: PostgresBulk;
  /** Puts relaxed commits on disk before the store acknowledges them (queries.ts). */
  readonly #flush = new SharedFlush(() => this.#run('walFlush', []));
  /** Whether statements that notify may commit without waiting for the disk: set at start, once `walFlush` is known to be allowed. */
  #relax = false;
  readonly #outcomeQueue: Array<{
    outcomes: readonly JobOutcome[];
    resolve: (accepted: boolean[]) => void;
    reject: (error: unknown) => void;
  }> = [];
  #writingOutcomes = false;
  #closed = false;

  /** Use {@link createPostgresStore}, which also migrates and starts listening. */
  constructor(options: PostgresStoreOptions) {
    this.#options = parsePostgresOptions(options);
    this.clock = this.#options.clock ?? systemClock;
    this.#log = this.#options.logger ?? pino({ level: 'warn' });
    this.#channel = `offload:${this.#options.schema}`;
    this.description = `${this.#options.target.label} (schema ${this.#options.schema})`;
    this.#sql = Object.fromEntries(
      Object.entries(sql).map(([name, text]) => {
        const bound = bindSql(text, this.#bindings(this.#origin));
        const hash = createHash('sha1').update(bound).digest('hex').slice(0, 10);
        return [name, { text: bound, name: `offload_${name}_${hash}` }];
      }),
    ) as Record<QueryName, { text: string; name: string }>;
    this.#pool = new pg.Pool({
      ...this.#clientConfig('pool'),
      max: this.#options.poolSize,
      idleTimeoutMillis: 30_000,
    });
    this.#pool.on('error', (error) =>
      this.#log.warn(
        { store: this.description, err: error.message },
        'offload: an idle PostgreSQL connection failed; it will be replaced',
      ),
    );
    // pg-pool listens for errors only on idle clients. A backend killed just as its client is handed
    // to a waiter (its ReadyForQuery and the kill in one read) would otherwise raise an 'error' event
    // with no listener and end the process. The failed statement reports the error; the pool drops
    // the client because it is no longer queryable.
    this.#pool.on('connect', (client) => client.on('error', () => undefined));
    this.#feed = new ChangeFeed({
      events: this.#events,
      origin: this.#origin,
      clock: this.clock,
      logger: this.#log,
      label: this.description,
      channel: this.#channel,
      listen: this.#options.listen,
      pollInterval: this.#options.pollInterval,
      listenConfig: this.#clientConfig('listen'),
      lastJobId: async () => (await this.#run<{ id: string }>('lastJobId', [])).rows[0]?.id,
    });
    this.#notifier = new Notifier({
      origin: this.#origin,
      logger: this.#log,
      send: (payloads) => this.#run('notify', [this.#channel, payloads.join('\n')]),
    });
    this.#bulk = new PostgresBulk({
      clock: this.clock,
      events: this.#events,
      bind: (text) => bindSql(text, this.#bindings(this.#origin)),
      read: (text, values) => this.#read(text, values),
      transaction: (work) => this.#transaction(work),
    });
    this.#enqueuer = new Enqueuer({
      run: (name, values, db) => this.#run(name, values, db),
      transaction: (work) => this.#transaction(work),
      notifier: this.#notifier,
      events: this.#events,
      flush: this.#flush,
    });
  }

  #bindings(origin: string) {
    return { schema: this.#options.schema, channel: this.#channel, origin };
  }

  /** Migrates the schema and starts listening (or polling). Rejects with an OffloadError naming what to fix. */
  async start(): Promise<void> {
    let flushAllowed: boolean;
    try {
      const client = await this.#pool.connect();
      try {
        await migrate(client, this.#options.schema, this.#options.target.label);
        flushAllowed = await this.#enqueuer.probe(client);
        this.#relax = flushAllowed;
      } finally {
        client.release();
      }
      await this.#feed.start();
      if (!flushAllowed) {
        this.#log.warn(
          { store: this.description },
          'offload: this role may not run pg_logical_emit_message, so each enqueue waits for the disk before workers can see its job (about one disk flush later); GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO this role to start jobs sooner',
        );
      }
    } catch (error) {
      await this.close();
      throw startError(error, this.#options.target, this.#options.schema);
    }
  }

  async jobEnqueue(params: EnqueueParams, context: EnqueueContext = {}): Promise<EnqueueResult> {
    this.#assertOpen();
    return this.#enqueuer.one(params, this.#queryable(context), this.clock.now());
  }

  async jobEnqueueMany(
    params: readonly EnqueueParams[],
    context: EnqueueContext = {},
  ): Promise<EnqueueResult[]> {
    this.#assertOpen();
    const db = this.#queryable(context);
    if (params.length === 0) return [];
    return this.#enqueuer.many(params, db, this.clock.now());
  }

  async jobClaim(params: ClaimParams): Promise<ClaimedJob[]> {
    this.#assertOpen();
    const queues = params.queues.filter((queue) => queue.limit > 0);
    if (queues.length === 0 || params.tasks.length === 0) return [];
    const now = this.clock.now();
    // A durable claim that notifies would hold the notify lock through its disk flush: it commits relaxed, then flushes.
    const durable = this.#options.claimCommit === 'sync';
    const starts = queues.map((q) => Math.min(q.start ?? q.limit, q.limit));
    const values = [
      params.workerId,
      queues.map((q) => q.name),
      queues.map((q) => q.limit),
      starts,
      now,
      params.tasks,
      params.leaseMs,
      durable && !this.#relax ? 'on' : 'off',
      (params.ended ?? []).map((lease) => lease.id),
      (params.ended ?? []).map((lease) => lease.fence),
    ];
    const { rows } = await this.#run<JobRow>('jobClaim', values);
    if (durable && this.#relax && rows.length > 0) await this.#flush.request();
    const leaseExpiresAt = now + params.leaseMs;
    for (const row of rows) {
      row.state = 'running';
      row.lease_owner = params.workerId;
      row.lease_expires_at = leaseExpiresAt;
    }
    const jobs = rows.map((row) => claimedFromRow(row, now)).sort(claimOrder);
    if (this.#events.listens('job:started'))
      for (const job of jobs) this.#events.emit('job:started', eventOf(job));
    return jobs;
  }

  async jobRenewLeases(params: RenewParams): Promise<string[]> {
    this.#assertOpen();
    if (params.leases.length === 0) return [];
    const leases = params.leases.filter((lease) => ID_PATTERN.test(lease.id));
    const invalid = params.leases
      .filter((lease) => !ID_PATTERN.test(lease.id))
      .map((lease) => lease.id);
    const values = [
      leases.map((l) => l.id),
      leases.map((l) => l.workerId),
      leases.map((l) => l.fence),
      this.clock.now() + params.leaseMs,
    ];
    const { rows } = await this.#run<{ id: string }>('jobRenewLeases', values);
    return [...rows.map((row) => row.id), ...invalid];
  }

  /**
   * Outcomes are written one statement at a time per store instance: calls that arrive while a
   * statement is in flight are merged into the next one. Every call still resolves only after its
   * own outcomes are committed; merging only shares the commit (group commit), which is what keeps
   * many small concurrent writes from queueing behind each other in the database. A call with an
   * invalid outcome is refused before it is merged, and when the database refuses a merged
   * statement, each call is written alone, so one call's failure fails no other.
   */
  jobRecordOutcomes(outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    this.#assertOpen();
    return new Promise((resolve, reject) => {
      checkOutcomes(outcomes);
      this.#outcomeQueue.push({ outcomes, resolve, reject });
      if (!this.#writingOutcomes) void this.#writeOutcomes();
    });
  }

  async #writeOutcomes(): Promise<void> {
    this.#writingOutcomes = true;
    while (this.#outcomeQueue.length > 0) {
      const calls = this.#outcomeQueue.splice(0);
      try {
        const accepted = await this.#recordOutcomes(calls.flatMap((call) => call.outcomes));
        let offset = 0;
        for (const call of calls) {
          call.resolve(accepted.slice(offset, offset + call.outcomes.length));
          offset += call.outcomes.length;
        }
      } catch (error) {
        if (calls.length === 1) calls[0]!.reject(error);
        else
          for (const call of calls)
            await this.#recordOutcomes(call.outcomes).then(call.resolve, call.reject);
      }
    }
    this.#writingOutcomes = false;
  }

  async #recordOutcomes(outcomes: readonly JobOutcome[]): Promise<boolean[]> {
    const accepted = outcomes.map(() => false);
    // A run that started and ended in one batch: its outcome marks it started too, and one
    // statement must not update a row twice.
    const ended = new Set(outcomes.filter((outcome) => outcome.kind !== 'started').map(leaseKey));
    const startsEnding = new Map<string, number>();
    const written: number[] = [];
    outcomes.forEach((outcome, i) => {
      if (!ID_PATTERN.test(outcome.lease.id)) return;
      if (outcome.kind === 'started' && ended.has(leaseKey(outcome)))
        startsEnding.set(leaseKey(outcome), i);
      else written.push(i);
    });
    if (written.length === 0) return accepted;
    const now = this.clock.now();
    const records = written.map((i, n) => {
      const outcome = outcomes[i]!;
      const [kind, result, error, runAt] = outcomeColumns(outcome, now);
      const { id, workerId: worker, fence, attempt } = outcome.lease;
      const note = announcedNote(outcome, error);
      const entry =
        outcome.kind === 'failed' ? attemptErrorEntry(outcome.error, attempt, now) : null;
      return {
        ord: n + 1,
        id,
        worker,
        fence,
        attempt,
        kind,
        result,
        error,
        entry,
        run_at: runAt,
        placement: outcome.placement ?? null,
        output_tail: outcome.outputTail ?? null,
        progress: outcome.progress ?? null,
        started_at: outcome.startedAt ?? null,
        note,
      };
    });
    type Row = {
      ord: string;
      id: string;
      queue: string;
      task: string;
      webhook_job_id: string | null;
    } & Announced;
    const { rows } = await this.#run<Row>('jobRecordOutcomes', [
      JSON.stringify(records),
      now,
      this.#relax,
    ]);
    await this.#flushIfRelaxed(rows);
    const succeeded: Array<{ id: string; queue: string; task: string; attempt: number }> = [];
    for (const row of rows) {
      const index = written[Number(row.ord) - 1]!;
      const outcome = outcomes[index]!;
      accepted[index] = true;
      const start = outcome.kind === 'started' ? undefined : startsEnding.get(leaseKey(outcome));
      if (start !== undefined) accepted[start] = true;
      if (outcome.kind === 'succeeded')
        succeeded.push({
          id: String(row.id),
          queue: row.queue,
          task: row.task,
          attempt: outcome.lease.attempt,
        });
      this.#events.emitOutcome(outcome, row);
    }
    this.#notifier.publish('ok', groupedItems(succeeded));
    this.#emitDeliveries(rows);
    return accepted;
  }

  /** Emits the delivery jobs the webhook trigger made for ended jobs with a callback URL (the statement announced them). */
  #emitDeliveries(rows: ReadonlyArray<{ webhook_job_id: string | number | null }>): void {
    if (!this.#events.listens('job:enqueued')) return;
    for (const row of rows) {
      if (row.webhook_job_id !== null)
        this.#events.emit('job:enqueued', {
          id: String(row.webhook_job_id),
          queue: WEBHOOK_QUEUE,
          task: WEBHOOK_TASK,
          state: 'queued',
          attempt: 0,
        });
    }
  }

  /** Waits until a statement that relaxed its commit to notify is on disk, before the store acknowledges it. */
  async #flushIfRelaxed(rows: readonly Announced[]): Promise<void> {
    if (rows[0]?.relaxed === true) await this.#flush.request();
  }

  async jobSetProgress(params: LeaseRef & { progress: string }): Promise<boolean> {
    this.#assertOpen();
    if (!ID_PATTERN.test(params.id)) return false;
    const { rows } = await this.#run<EventRow & Announced>('jobSetProgress', [
      params.id,
      params.workerId,
      params.fence,
      params.progress,
      this.#relax,
    ]);
    await this.#flushIfRelaxed(rows);
    const row = rows[0];
    if (row)
      this.#events.emit('job:progress', {
        ...eventOfRow(row, 'running'),
        progress: JSON.parse(params.progress) as unknown,
      });
    return row !== undefined;
  }

  async jobCancel(params: { id: string }): Promise<Job> {
    this.#assertOpen();
    const now = this.clock.now();
    const rows = ID_PATTERN.test(params.id)
      ? (await this.#run<JobRow & Announced>('jobCancel', [params.id, now, this.#relax])).rows
      : [];
    await this.#flushIfRelaxed(rows);
    const row = rows[0];
    if (!row) throw await this.#stateError(params.id, 'cancel', 'scheduled, queued or running');
    const job = jobFromRow(row, now);
    this.#events.emit('job:cancelled', eventOf(job));
    this.#emitDeliveries([row]);
    return job;
  }

  async jobRetry(params: { id: string }): Promise<Job> {
    this.#assertOpen();
    const now = this.clock.now();
    let rows: Array<JobRow & Announced> = [];
    try {
      if (ID_PATTERN.test(params.id))
        rows = (await this.#run<JobRow & Announced>('jobRetry', [params.id, now, this.#relax]))
          .rows;
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      throw new OffloadError(
        ErrorCodes.JOB_STATE,
        `job ${params.id} cannot be retried: another unfinished job has the same unique key; wait for it or cancel it`,
        { details: { id: params.id } },
      );
    }
    await this.#flushIfRelaxed(rows);
    const row = rows[0];
    if (!row) throw await this.#stateError(params.id, 'retry', 'failed or cancelled');
    const job = jobFromRow(row, now);
    this.#events.emit('job:enqueued', eventOf(job));
    return job;
  }

  async jobUpdate(params: JobUpdateParams): Promise<Job> {
    this.#assertOpen();
    const values = [
      params.id,
      params.runAt ?? null,
      params.priority ?? null,
      params.payload ?? null,
      this.#relax,
    ];
    const rows = ID_PATTERN.test(params.id)
      ? (await this.#run<JobRow & Announced>('jobUpdate', values)).rows
      : [];
    await this.#flushIfRelaxed(rows);
    const row = rows[0];
    if (!row) throw await this.#stateError(params.id, 'be updated', 'scheduled or queued');
    const job = jobFromRow(row, this.clock.now());
    this.#events.emit('job:updated', { ...eventOf(job), runAt: job.runAt });
    return job;
  }

  async jobRemove(params: { id: string }): Promise<Job> {
    this.#assertOpen();
    const now = this.clock.now();
    const rows = ID_PATTERN.test(params.id)
      ? (await this.#run<JobRow & Announced>('jobRemove', [params.id, now, this.#relax])).rows
      : [];
    await this.#flushIfRelaxed(rows);
    const row = rows[0];
    if (!row)
      throw await this.#stateError(
        params.id,
        'be removed',
        'scheduled, queued, succeeded, failed or cancelled',
      );
    const job = jobFromRow(row, now);
    this.#events.emit('job:removed', eventOf(job));
    return job;
  }

  async jobGet(params: { id: string }): Promise<Job | undefined> {
    this.#assertOpen();
    if (!ID_PATTERN.test(params.id)) return undefined;
    const row = (await this.#run<JobRow>('jobGet', [params.id])).rows[0];
    return row && jobFromRow(row, this.clock.now());
  }

  async jobList(params: JobListParams): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    this.#assertOpen();
    const limit = Math.min(Math.max(params.limit ?? 50, 1), 1000);
    const now = this.clock.now();
    const values: unknown[] = [];
    let where = filterClause(params, values, now);
    if (params.cursor) {
      if (!ID_PATTERN.test(params.cursor))
        throw new OffloadError(
          ErrorCodes.INVALID_OPTION,
          `jobList: cursor "${params.cursor}" is not one this store gave out`,
        );
      values.push(params.cursor);
      where += ` AND id < $${values.length}`;
    }
    values.push(limit + 1);
    const text = `SELECT * FROM ${this.#table('jobs')} WHERE ${where} ORDER BY id DESC LIMIT $${values.length}`;
    const rows = (await this.#read<JobRow>(text, values)).rows;
    const page = rows.slice(0, limit).map((row) => jobFromRow(row, now));
    return { jobs: page, nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
  }

  async jobCount(params: JobFilter): Promise<Record<JobState, number>> {
    this.#assertOpen();
    const values: unknown[] = [this.clock.now()];
    const where = filterClause(params, values, this.clock.now());
    const text = `SELECT ${stateExpression(1)} AS state, count(*)::int AS n FROM ${this.#table('jobs')} WHERE ${where} GROUP BY 1`;
    const counts = emptyCounts();
    for (const row of (await this.#read<{ state: JobState; n: number }>(text, values)).rows)
      counts[row.state] = row.n;
    return counts;
  }

  async jobRecoverExpired(): Promise<{ requeued: string[]; failed: string[] }> {
    this.#assertOpen();
    const now = this.clock.now();
    type Row = EventRow &
      Announced & {
        state: 'queued' | 'failed';
        error: string;
        run_at: string;
        webhook_job_id: string | null;
      };
    const { rows } = await this.#run<Row>('jobRecoverExpired', [now, this.#relax]);
    await this.#flushIfRelaxed(rows);
    const requeued: string[] = [];
    const failed: string[] = [];
    rows.sort((a, b) => Number(a.id) - Number(b.id));
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
          runAt: Number(row.run_at),
        });
      }
    }
    this.#emitDeliveries(rows);
    return { requeued, failed };
  }

  async jobDeleteFinished(params: { before: number; limit?: number }): Promise<number> {
    this.#assertOpen();
    return (
      (await this.#run('jobDeleteFinished', [params.before, params.limit ?? 10_000])).rowCount ?? 0
    );
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
    const row = (
      await this.#run<{ run_at: string | null }>('jobNextRunAt', [
        params.queues,
        params.tasks,
        this.clock.now(),
      ])
    ).rows[0];
    return row?.run_at == null ? null : Number(row.run_at);
  }

  async limitsSet(params: {
    queue: string;
    layer: LimitsLayer;
    limits: QueueLimits | null;
  }): Promise<void> {
    this.#assertOpen();
    const limits = params.limits === null ? null : JSON.stringify(params.limits);
    await this.#run('limitsSet', [params.queue, params.layer, limits, this.clock.now()]);
    this.#notifier.publish('changed', [[params.queue]]);
  }

  async limitsGet(params: { queue: string }): Promise<LimitsState | undefined> {
    return (await this.#limits(params.queue))[0];
  }

  async limitsList(): Promise<LimitsState[]> {
    return this.#limits(null);
  }

  /** The limits of one queue, or of all when `queue` is null. */
  async #limits(queue: string | null): Promise<LimitsState[]> {
    this.#assertOpen();
    const now = this.clock.now();
    type LimitsRow = {
      queue: string;
      declared: QueueLimits | null;
      runtime: QueueLimits | null;
      running: number;
      starts: string[];
      held_until: string | null;
    };
    type KeyRow = { key: string; running: number; starts: string[]; held_until: string | null };
    const { rows } = await this.#run<LimitsRow>('limitsAll', [queue]);
    return Promise.all(
      rows.map(async (row) => {
        const [keys, held] = await Promise.all([
          this.#run<KeyRow>('limitsKeys', [row.queue, now]),
          this.#run<{ n: number }>('limitsHeldBack', [row.queue, now]),
        ]);
        const record = {
          queue: row.queue,
          declared: row.declared,
          runtime: row.runtime,
          running: row.running,
          starts: row.starts.map(Number),
          heldUntil: row.held_until === null ? null : Number(row.held_until),
        };
        const keyRecords = keys.rows.map((key) => ({
          key: key.key,
          running: key.running,
          starts: key.starts.map(Number),
          heldUntil: key.held_until === null ? null : Number(key.held_until),
        }));
        return limitsState(record, keyRecords, held.rows[0]!.n, now);
      }),
    );
  }

  async queuePause(params: { name: string }): Promise<void> {
    this.#assertOpen();
    await this.#run('queueSetPaused', [params.name, true]);
    this.#notifier.publish('changed', [[params.name]]);
  }

  async queueResume(params: { name: string }): Promise<void> {
    this.#assertOpen();
    await this.#run('queueSetPaused', [params.name, false]);
    this.#notifier.publish('changed', [[params.name]]);
    this.#events.emit('store:changed', {});
  }

  async queueList(): Promise<QueueInfo[]> {
    this.#assertOpen();
    const now = this.clock.now();
    const [known, counted] = await Promise.all([
      this.#run<{ name: string; paused?: boolean }>('queueNames', []),
      this.#run<{ queue: string; state: JobState; n: number }>('queueCounts', [now]),
    ]);
    const paused = new Set(
      (await this.#run<{ name: string }>('queuePaused', [])).rows.map((r) => r.name),
    );
    const names = [
      ...new Set([...known.rows.map((r) => r.name), ...counted.rows.map((r) => r.queue)]),
    ].sort();
    const byQueue = new Map(names.map((name) => [name, emptyCounts()]));
    for (const row of counted.rows) byQueue.get(row.queue)![row.state] = row.n;
    return names.map((name) => ({ name, paused: paused.has(name), counts: byQueue.get(name)! }));
  }

  async taskRegister(params: { tasks: readonly TaskInfo[] }): Promise<void> {
    this.#assertOpen();
    if (params.tasks.length === 0) return;
    const t = params.tasks;
    const values = [
      t.map((x) => x.name),
      t.map((x) => x.queue),
      t.map((x) => x.mode),
      t.map((x) => x.attempts),
      t.map((x) => x.priority),
      t.map((x) => x.timeout),
      this.clock.now(),
    ];
    await this.#run('taskUpsert', values);
  }

  async taskList(): Promise<TaskInfo[]> {
    this.#assertOpen();
    return (await this.#run<TaskInfo>('taskList', [])).rows;
  }

  async workerHeartbeat(params: WorkerRecord): Promise<void> {
    this.#assertOpen();
    await this.#run('workerHeartbeat', [
      params.id,
      params.host,
      params.pid,
      params.modes,
      params.queues,
      params.running,
      params.startedAt,
      params.lastHeartbeat,
    ]);
  }

  async workerRemove(params: { id: string }): Promise<void> {
    this.#assertOpen();
    await this.#run('workerRemove', [params.id]);
  }

  async workerList(params: { since: number }): Promise<WorkerRecord[]> {
    this.#assertOpen();
    return (await this.#run<WorkerRow>('workerList', [params.since])).rows.map(workerFromRow);
  }

  async settingGet(params: { key: string }): Promise<string | undefined> {
    this.#assertOpen();
    return (await this.#run<{ value: string }>('settingGet', [params.key])).rows[0]?.value;
  }

  async settingSet(params: { key: string; value: string }): Promise<void> {
    this.#assertOpen();
    await this.#run('settingSet', [params.key, params.value]);
  }

  async settingInit(params: { key: string; value: string }): Promise<string> {
    this.#assertOpen();
    const inserted = (await this.#run<{ value: string }>('settingInit', [params.key, params.value]))
      .rows[0];
    if (inserted) return inserted.value;
    return (await this.#run<{ value: string }>('settingGet', [params.key])).rows[0]!.value;
  }

  async tokenCreate(params: {
    id: string;
    name: string;
    scopes: readonly string[];
    hash: string;
  }): Promise<TokenRecord> {
    this.#assertOpen();
    const row = (
      await this.#run<TokenRow>('tokenCreate', [
        params.id,
        params.name,
        params.scopes,
        params.hash,
        this.clock.now(),
      ])
    ).rows[0];
    if (!row)
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `a token with id ${params.id} exists already; create it again for a new id`,
      );
    return tokenFromRow(row);
  }

  async tokenGet(params: { id: string }): Promise<TokenRecord | undefined> {
    this.#assertOpen();
    const row = (await this.#run<TokenRow>('tokenGet', [params.id])).rows[0];
    return row && tokenFromRow(row);
  }

  async tokenList(): Promise<TokenRecord[]> {
    this.#assertOpen();
    return (await this.#run<TokenRow>('tokenList', [])).rows.map(tokenFromRow);
  }

  async tokenRevoke(params: { id: string }): Promise<boolean> {
    this.#assertOpen();
    return ((await this.#run('tokenRevoke', [params.id, this.clock.now()])).rowCount ?? 0) > 0;
  }

  async tokenTouch(params: { id: string; minIntervalMs?: number }): Promise<void> {
    this.#assertOpen();
    await this.#run('tokenTouch', [params.id, this.clock.now(), params.minIntervalMs ?? 60_000]);
  }

  on<E extends keyof StoreEvents>(
    event: E,
    listener: (payload: StoreEvents[E]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.clear();
    await this.#notifier.drain();
    await this.#feed.close();
    await this.#pool.end().catch(() => undefined);
  }

  #clientConfig(role: string): pg.ClientConfig {
    return {
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: this.#options.connectTimeout,
      application_name: `offload:${this.#options.schema}:${role}:${this.#origin}`,
    };
  }

  /** Runs a named statement on the pool (prepared) or on the caller's client (not prepared). */
  async #run<R>(
    name: QueryName,
    values: unknown[],
    db?: Queryable,
  ): Promise<{ rows: R[]; rowCount: number | null }> {
    if (db !== undefined)
      return db.query({ text: this.#clientText(name), values }) as Promise<{
        rows: R[];
        rowCount: number | null;
      }>;
    const statement = this.#sql[name];
    const prepared = this.#options.preparedStatements && !PLANNED_EACH_TIME.has(name);
    const config = prepared
      ? { name: statement.name, text: statement.text, values }
      : { text: statement.text, values };
    return this.#pool.query(config) as unknown as Promise<{ rows: R[]; rowCount: number | null }>;
  }

  /** A read that is retried once when its connection broke (a restarted server, a killed backend). */
  async #read<R>(text: string, values: unknown[]): Promise<{ rows: R[] }> {
    try {
      return (await this.#pool.query(text, values)) as unknown as { rows: R[] };
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      return (await this.#pool.query(text, values)) as unknown as { rows: R[] };
    }
  }

  /** SQL for a caller's client: notifications carry no origin, so every instance, this one too, emits them on commit. */
  #clientText(name: QueryName): string {
    let text = this.#clientSql.get(name);
    if (text === undefined) {
      text = bindSql(sql[name], this.#bindings(''));
      this.#clientSql.set(name, text);
    }
    return text;
  }

  async #transaction<T>(work: (db: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // A cut connection needs no listener here: every pool connection has one, and the pool drops a
    // connection that is no longer queryable. One whose ROLLBACK failed is dropped too.
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  #queryable(context: EnqueueContext): Queryable | undefined {
    const client = context.client;
    if (client === undefined) return undefined;
    if (typeof (client as Queryable)?.query !== 'function') {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        'enqueue: option `client` must be a pg Client, PoolClient or Pool (something with query())',
        {
          details: { option: 'client' },
        },
      );
    }
    return client as Queryable;
  }

  #table(name: string): string {
    return `"${this.#options.schema}".${name}`;
  }

  async #stateError(id: string, action: string, allowed: string): Promise<OffloadError> {
    const job = await this.jobGet({ id });
    if (!job)
      return new OffloadError(ErrorCodes.JOB_NOT_FOUND, `no job with id ${id}`, {
        details: { id },
      });
    return new OffloadError(
      ErrorCodes.JOB_STATE,
      `job ${id} is ${job.state}; only ${allowed} jobs can ${action}`,
      {
        details: { id, state: job.state },
      },
    );
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new OffloadError(ErrorCodes.STORE_CLOSED, `${this.description} is closed`);
  }
}

type TokenRow = {
  id: string;
  name: string;
  scopes: string[];
  hash: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
};

function tokenFromRow(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    hash: row.hash,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/**
 * Opens the PostgreSQL store: connects, applies migrations under an advisory lock (safe when many
 * processes start at once), and starts listening. See {@link PostgresStoreOptions} for defaults.
 * Rejects with ERR_INVALID_OPTION, ERR_STORE_CONNECT, ERR_STORE_PERMISSION, ERR_STORE_CORRUPT or
 * ERR_STORE_TOO_NEW, each naming what to fix.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = new PostgresStore(options);
  await store.start();
  return store;
}

function leaseKey(outcome: JobOutcome): string {
  return `${outcome.lease.id}:${outcome.lease.fence}`;
}
