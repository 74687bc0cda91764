import type Database from 'better-sqlite3';
import { keyLimit } from '../../core/flow-limits.ts';
import type { LeaseRef, LimitsLayer, LimitsState, QueueLimits, RateWindow } from '../contract.ts';
import {
  afterStarts,
  effectiveLimits,
  keysPerClaim,
  limitsState,
  TOP_KEYS,
  windowTokens,
  type KeyRecord,
  type LimitsRecord,
} from '../flow-state.ts';
import type { JobRow } from '../row.ts';
import { sql as storeSql } from './queries.ts';

const jobNextRunAt = storeSql.jobNextRunAt;

type Statement = Database.Statement<unknown[], unknown>;

interface LimitsRow {
  queue: string;
  declared: string | null;
  runtime: string | null;
  running: number;
  starts: string;
  held_until: number | null;
  rotation: string | null;
  wake_at: number | null;
  claimed_at: number;
}

interface KeyRow {
  key: string;
  running: number;
  starts: string;
  held_until: number | null;
}

const sql = {
  limitsAll: `SELECT * FROM offload_limits ORDER BY queue`,
  limitsOne: `SELECT * FROM offload_limits WHERE queue = ?`,
  limitsUpsert: `
    INSERT INTO offload_limits (queue, declared, runtime, updated_at) VALUES (@queue, @declared, @runtime, @now)
    ON CONFLICT (queue) DO UPDATE SET declared = excluded.declared, runtime = excluded.runtime, updated_at = excluded.updated_at`,
  limitsDelete: `DELETE FROM offload_limits WHERE queue = ?`,
  limitsAfterClaim: `UPDATE offload_limits SET running = running + @taken, starts = @starts, rotation = @cursor, wake_at = @wakeAt, claimed_at = @now WHERE queue = @queue`,
  limitsWake: `UPDATE offload_limits SET wake_at = @wakeAt WHERE queue = @queue`,
  limitsHold: `UPDATE offload_limits SET held_until = max(coalesce(held_until, 0), @until), wake_at = @until WHERE queue = @queue`,
  /** Counters from scratch, when a queue becomes limited: what runs now holds a slot. */
  slotsTake: `UPDATE offload_jobs SET slot = 1, flow_key = coalesce(flow_key, '') WHERE queue = @queue AND state = 'running'`,
  keysUnkeyed: `UPDATE offload_jobs SET flow_key = '' WHERE queue = @queue AND state = 'queued' AND flow_key IS NULL`,
  keysCount: `
    INSERT INTO offload_flow_keys (queue, key, running)
    SELECT queue, flow_key, count(*) FROM offload_jobs WHERE queue = @queue AND state = 'running' GROUP BY flow_key
    ON CONFLICT (queue, key) DO UPDATE SET running = excluded.running`,
  limitsCount: `UPDATE offload_limits SET running = (SELECT count(*) FROM offload_jobs WHERE queue = @queue AND state = 'running') WHERE queue = @queue`,
  /** Jobs of a queue whose strict order began or ended: running ones too, since a retry comes back queued. */
  strictMark: `UPDATE offload_jobs SET flow_strict = @strict WHERE queue = @queue AND state IN ('queued','running')`,
  slotsDrop: `UPDATE offload_jobs SET slot = 0 WHERE queue = @queue AND slot = 1`,
  keysDrop: `DELETE FROM offload_flow_keys WHERE queue = @queue`,
  keysAfterClaim: `
    INSERT INTO offload_flow_keys (queue, key, running, starts)
    SELECT @queue, value ->> 0, value ->> 1, value ->> 2 FROM json_each(@keys) WHERE true
    ON CONFLICT (queue, key) DO UPDATE SET running = running + excluded.running, starts = excluded.starts`,
  keysTop: `SELECT * FROM offload_flow_keys WHERE queue = @queue AND (running > 0 OR held_until > @now OR starts <> '[]') ORDER BY running DESC, key LIMIT ${TOP_KEYS}`,
  keyHold: `
    INSERT INTO offload_flow_keys (queue, key, held_until) VALUES (@queue, @key, @until)
    ON CONFLICT (queue, key) DO UPDATE SET held_until = max(coalesce(held_until, 0), excluded.held_until)`,
  /**
   * Ended runs of the claiming worker (@leases: JSON array of [id, fence]) that still hold their
   * slots, by key: their outcomes are on the way and will give the slots back.
   */
  endedHolding: `
    SELECT j.flow_key AS key, count(*) AS n
      FROM json_each(@leases) AS ended
      JOIN offload_jobs j ON j.id = ended.value ->> 0 AND j.fence = ended.value ->> 1
     WHERE j.queue = @queue AND j.lease_owner = @workerId AND j.state = 'running' AND j.slot = 1
     GROUP BY j.flow_key`,
  /** @startedAt: now for jobs that start at once, null for jobs claimed ahead. */
  jobsLease: `
    UPDATE offload_jobs
       SET state = 'running', attempts = attempts + 1, fence = fence + 1, lease_owner = @workerId,
           lease_expires_at = @now + @leaseMs, started_at = @startedAt, slot = 1
     WHERE id IN (SELECT value FROM json_each(@ids))
    RETURNING *`,
  heldBack: `SELECT count(*) AS n FROM offload_jobs WHERE state = 'queued' AND queue = @queue AND run_at <= @now`,
} as const;

/**
 * The keys of a queue with waiting jobs in byte order (a skip scan of the flow index, from the
 * first key or from after `@after`), each with its counters and, unless it is held or full, its
 * due jobs in claim order (under strict order: its oldest job, once that is due). Rows come one
 * key at a time, so a claim stops reading where its budget is spent.
 */
function rotationSql(seed: 'first' | 'after', order: 'fair' | 'strict'): string {
  const queued = `state = 'queued' AND flow_key IS NOT NULL AND queue = @queue`;
  const tasks = `task IN (SELECT value FROM json_each(@tasks))`;
  const due =
    order === 'fair'
      ? `SELECT id FROM offload_jobs INDEXED BY offload_jobs_flow
          WHERE ${queued} AND flow_key = keys.key AND run_at <= @now AND ${tasks}
          ORDER BY priority DESC, run_at, id LIMIT @perKey`
      : `SELECT id FROM (
           SELECT id, run_at, task FROM offload_jobs INDEXED BY offload_jobs_flow_order
            WHERE state = 'queued' AND flow_strict = 1 AND queue = @queue AND flow_key = keys.key
            ORDER BY id LIMIT 1)
          WHERE run_at <= @now AND ${tasks}`;
  const next = (after: string) =>
    `SELECT flow_key FROM offload_jobs INDEXED BY offload_jobs_flow
      WHERE ${queued}${after} ORDER BY flow_key LIMIT 1`;
  const limit = `coalesce((SELECT value FROM json_each(@overrides) WHERE json_each.key = keys.key), @keyLimit)`;
  const endedOf = `coalesce((SELECT value FROM json_each(@ended) WHERE json_each.key = keys.key), 0)`;
  return `
    WITH RECURSIVE keys(key, n) AS (
      SELECT (${next(seed === 'after' ? ' AND flow_key > @after' : '')}), 1
      UNION ALL
      SELECT (${next(' AND flow_key > keys.key')}), n + 1 FROM keys WHERE keys.key IS NOT NULL AND n < @most
    )
    SELECT keys.key, coalesce(f.running, 0) AS running, coalesce(f.starts, '[]') AS starts, f.held_until,
           CASE WHEN coalesce(f.held_until, 0) > @now
                  OR (keys.key <> '' AND coalesce(f.running, 0) - ${endedOf} >= coalesce(${limit}, 9e18)) THEN '[]'
                ELSE (SELECT json_group_array(id) FROM (${due})) END AS ids
      FROM keys LEFT JOIN offload_flow_keys f ON f.queue = @queue AND f.key = keys.key
     WHERE keys.key IS NOT NULL`;
}

const rotation = {
  first: { fair: rotationSql('first', 'fair'), strict: rotationSql('first', 'strict') },
  after: { fair: rotationSql('after', 'fair'), strict: rotationSql('after', 'strict') },
} as const;

interface RotationRow extends KeyRow {
  /** JSON array of the key's due job ids, in claim order ('[]' when it is held or full). */
  ids: string;
}

/** What the flow part needs of its store. */
export interface SqliteFlowDeps {
  statement(text: string): Statement;
}

/** One claim's part for a limited queue. */
export interface FlowClaim {
  queue: string;
  /** Jobs wanted, of which the first `start` start at once; the rest are claimed ahead (not in a rate-limited queue). */
  limit: number;
  start: number;
  workerId: string;
  leaseMs: number;
  /** JSON array of the task names served. */
  tasks: string;
  now: number;
  /** `ClaimParams.ended`: runs of this worker that have ended, their outcomes on the way. */
  ended: readonly LeaseRef[] | undefined;
}

/**
 * Flow control on SQLite (docs/flow-control.md): the limits rows, and the claim of a limited queue.
 * Every method runs inside a write transaction of the store, which is the only writer of the
 * file, so counters and rate windows are exact without further locking.
 */
export class SqliteFlow {
  readonly #deps: SqliteFlowDeps;

  constructor(deps: SqliteFlowDeps) {
    this.#deps = deps;
  }

  /** The limits that apply, by queue, for the queues that have any. */
  limited(): Map<string, { limits: QueueLimits; row: LimitsRow }> {
    const limited = new Map<string, { limits: QueueLimits; row: LimitsRow }>();
    for (const row of this.#all(sql.limitsAll) as LimitsRow[]) {
      const limits = effectiveLimits(parse(row.declared), parse(row.runtime));
      if (limits) limited.set(row.queue, { limits, row });
    }
    return limited;
  }

  /** Sets one layer; counters start from what runs when a queue becomes limited, and drop when it stops being. */
  set(queue: string, layer: LimitsLayer, limits: QueueLimits | null, now: number): void {
    const row = this.#get(sql.limitsOne, queue) as LimitsRow | undefined;
    const declared = layer === 'declared' ? limits : parse(row?.declared ?? null);
    const runtime = layer === 'runtime' ? limits : parse(row?.runtime ?? null);
    const before = row ? effectiveLimits(parse(row.declared), parse(row.runtime)) : null;
    const after = effectiveLimits(declared, runtime);
    if (declared === null && runtime === null) this.#run(sql.limitsDelete, queue);
    else
      this.#run(sql.limitsUpsert, {
        queue,
        declared: declared && JSON.stringify(declared),
        runtime: runtime && JSON.stringify(runtime),
        now,
      });
    if ((before?.order === 'strict') !== (after?.order === 'strict'))
      this.#run(sql.strictMark, { queue, strict: after?.order === 'strict' ? 1 : 0 });
    if (!before && after) {
      for (const text of [sql.keysUnkeyed, sql.slotsTake, sql.keysCount, sql.limitsCount])
        this.#run(text, { queue });
    } else if (before && !after) {
      for (const text of [sql.slotsDrop, sql.keysDrop]) this.#run(text, { queue });
    }
  }

  get(queue: string, now: number): LimitsState | undefined {
    const row = this.#get(sql.limitsOne, queue) as LimitsRow | undefined;
    return row && this.#state(row, now);
  }

  list(now: number): LimitsState[] {
    return (this.#all(sql.limitsAll) as LimitsRow[]).map((row) => this.#state(row, now));
  }

  /**
   * Leases up to `claim.limit` due jobs of a limited queue: within the queue's concurrency and rate,
   * rotating over its keys from where the last claim stopped, each key within its own limits.
   */
  claim(flowClaim: FlowClaim, limits: QueueLimits, row: LimitsRow): JobRow[] {
    // A claim whose clock reading is older than the last claim's (it waited for the lock) counts
    // from the later time, so no window ever takes a start in its past.
    const claim = { ...flowClaim, now: Math.max(flowClaim.now, row.claimed_at) };
    const { queue, now } = claim;
    if (row.held_until !== null && row.held_until > now) return [];
    // Jobs claimed ahead hold their slots like running ones, but a start counted in a rate window
    // must be a start: a rate-limited queue claims nothing ahead.
    // The worker's ended runs still hold slots in the counters until their outcomes give them
    // back; this claim counts them free. Not under strict order: a retry must come first.
    const ended = limits.order === 'strict' ? new Map<string, number>() : this.#endedHolding(claim);
    let endedTotal = 0;
    for (const n of ended.values()) endedTotal += n;
    const running = row.running - endedTotal;
    const rated = limits.rate !== undefined || limits.keyRate !== undefined;
    let budget = rated ? Math.min(claim.limit, claim.start) : claim.limit;
    if (limits.concurrency !== undefined) budget = Math.min(budget, limits.concurrency - running);
    const queueStarts = parseStarts(row.starts);
    // A wake that an earlier claim set for a key this one may not visit still stands.
    let wakeAt: number | null = row.wake_at !== null && row.wake_at > now ? row.wake_at : null;
    const later = (at: number) => (wakeAt = wakeAt === null ? at : Math.min(wakeAt, at));
    if (limits.rate) {
      const tokens = windowTokens(queueStarts, limits.rate, now);
      budget = Math.min(budget, tokens.left);
      if (tokens.nextAt !== null) later(tokens.nextAt);
    }
    if (budget <= 0) {
      this.#run(sql.limitsWake, { queue, wakeAt });
      return [];
    }
    const ids: number[] = [];
    const keyRows: Array<[string, number, string]> = [];
    let cursor = row.rotation;
    for (const key of this.#rotation(claim, limits, row.rotation, budget, ended)) {
      if (key.held_until !== null && key.held_until > now) {
        later(key.held_until);
        continue;
      }
      let free = budget - ids.length;
      const limit = key.key === '' ? null : keyLimit(limits, key.key);
      if (limit !== null) free = Math.min(free, limit - key.running + (ended.get(key.key) ?? 0));
      const keyRate = key.key === '' ? undefined : limits.keyRate;
      const starts = parseStarts(key.starts);
      if (keyRate) {
        const tokens = windowTokens(starts, keyRate, now);
        if (tokens.nextAt !== null) later(tokens.nextAt);
        free = Math.min(free, tokens.left);
      }
      if (free <= 0) continue;
      const taken = (JSON.parse(key.ids) as number[]).slice(0, free);
      if (taken.length === 0) continue;
      ids.push(...taken);
      cursor = key.key;
      const keyStarts = keyRate ? afterStarts(starts, keyRate, now, taken.length) : [];
      // A window these starts filled wakes the worker when its oldest start leaves it.
      if (keyRate) this.#wakeWhenFull(keyStarts, keyRate, now, later);
      keyRows.push([key.key, taken.length, JSON.stringify(keyStarts)]);
      if (ids.length >= budget) break;
    }
    if (keyRows.length) this.#run(sql.keysAfterClaim, { queue, keys: JSON.stringify(keyRows) });
    const starts = limits.rate ? afterStarts(queueStarts, limits.rate, now, ids.length) : [];
    if (limits.rate) this.#wakeWhenFull(starts, limits.rate, now, later);
    this.#run(sql.limitsAfterClaim, {
      queue,
      now,
      taken: ids.length,
      starts: JSON.stringify(starts),
      cursor,
      wakeAt,
    });
    if (ids.length === 0) return [];
    const lease = { workerId: claim.workerId, leaseMs: claim.leaseMs, now };
    const starting = ids.slice(0, claim.start);
    const ahead = ids.slice(claim.start);
    return [
      ...(this.#all(sql.jobsLease, {
        ...lease,
        ids: JSON.stringify(starting),
        startedAt: now,
      }) as JobRow[]),
      ...(ahead.length
        ? (this.#all(sql.jobsLease, {
            ...lease,
            ids: JSON.stringify(ahead),
            startedAt: null,
          }) as JobRow[])
        : []),
    ];
  }

  #wakeWhenFull(
    starts: readonly number[],
    rate: RateWindow,
    now: number,
    later: (at: number) => void,
  ): void {
    const tokens = windowTokens(starts, rate, now);
    if (tokens.nextAt !== null) later(tokens.nextAt);
  }

  /** Holds a key (the whole queue for '' or no key) until `until`: `ctx.rateLimited`. */
  hold(queue: string, key: string | null, until: number): void {
    if (key) this.#run(sql.keyHold, { queue, key, until });
    else this.#run(sql.limitsHold, { queue, until });
  }

  /** When a limited queue may next start something by itself: a scheduled run-at, or a token or hold running out. */
  nextWake(queue: string, row: LimitsRow, tasks: string, now: number): number | null {
    const next = (this.#get(jobNextRunAt, { queue, tasks, after: now }) as { runAt: number | null })
      .runAt;
    // The stored wake counts even when it has just passed: a timer may fire a millisecond before
    // the clock reaches it, and the claim it makes then rewrites it (a passed wake is dropped).
    const hold = row.held_until !== null && row.held_until > now ? row.held_until : null;
    const wakes = [next, row.wake_at, hold].filter((at): at is number => at !== null);
    return wakes.length ? Math.min(...wakes) : null;
  }

  /**
   * Keys with waiting jobs, in byte order from after `cursor`, wrapping once to end at the cursor
   * ('' is the unkeyed group); at most `keysPerClaim(budget)` of them.
   */
  *#rotation(
    claim: FlowClaim,
    limits: QueueLimits,
    cursor: string | null,
    budget: number,
    ended: ReadonlyMap<string, number>,
  ): Generator<RotationRow> {
    const order = limits.order === 'strict' ? 'strict' : 'fair';
    const strict = order === 'strict';
    const overrides = strict ? {} : (limits.keyOverrides ?? {});
    const keyLimit = strict ? 1 : (limits.keyConcurrency ?? null);
    const widest = Math.max(keyLimit ?? budget, ...Object.values(overrides));
    const params = {
      queue: claim.queue,
      now: claim.now,
      tasks: claim.tasks,
      overrides: JSON.stringify(overrides),
      ended: JSON.stringify(Object.fromEntries(ended)),
      keyLimit,
      perKey: Math.min(budget, widest),
      most: keysPerClaim(budget),
    };
    let visited = 0;
    const first = cursor === null ? rotation.first : rotation.after;
    const seed = cursor === null ? params : { ...params, after: cursor };
    for (const key of this.#iterate(first[order], seed)) {
      visited++;
      yield key;
    }
    if (cursor === null || visited >= params.most) return;
    for (const key of this.#iterate(rotation.first[order], {
      ...params,
      most: params.most - visited,
    })) {
      if (byteOrder(key.key, cursor) > 0) return;
      yield key;
    }
  }

  #endedHolding(claim: FlowClaim): Map<string, number> {
    const ended = new Map<string, number>();
    if (!claim.ended?.length) return ended;
    const rows = this.#all(sql.endedHolding, {
      leases: JSON.stringify(claim.ended.map((lease) => [Number(lease.id), lease.fence])),
      queue: claim.queue,
      workerId: claim.workerId,
    }) as Array<{ key: string; n: number }>;
    for (const { key, n } of rows) ended.set(key, n);
    return ended;
  }

  #iterate(text: string, params: Record<string, unknown>): IterableIterator<RotationRow> {
    return this.#deps.statement(text).iterate(params) as IterableIterator<RotationRow>;
  }

  #state(row: LimitsRow, now: number): LimitsState {
    const record: LimitsRecord = {
      queue: row.queue,
      declared: parse(row.declared),
      runtime: parse(row.runtime),
      running: row.running,
      starts: parseStarts(row.starts),
      heldUntil: row.held_until,
    };
    const keys = (this.#all(sql.keysTop, { queue: row.queue, now }) as KeyRow[]).map(keyRecord);
    const heldBack = (this.#get(sql.heldBack, { queue: row.queue, now }) as { n: number }).n;
    return limitsState(record, keys, heldBack, now);
  }

  #run(text: string, params: unknown): void {
    this.#deps.statement(text).run(params);
  }

  #get(text: string, params: unknown): unknown {
    return this.#deps.statement(text).get(params);
  }

  #all(text: string, params?: unknown): unknown[] {
    const statement = this.#deps.statement(text);
    return params === undefined ? statement.all() : statement.all(params);
  }
}

/** SQLite compares text byte by byte (UTF-8); JavaScript's `<` compares UTF-16 units, which differs past U+FFFF. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function keyRecord(row: KeyRow): KeyRecord {
  return {
    key: row.key,
    running: row.running,
    starts: parseStarts(row.starts),
    heldUntil: row.held_until,
  };
}

function parse(text: string | null): QueueLimits | null {
  return text === null ? null : (JSON.parse(text) as QueueLimits);
}

function parseStarts(text: string): number[] {
  return JSON.parse(text) as number[];
}
