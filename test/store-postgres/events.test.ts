import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import type { Logger } from 'pino';
import type { EnqueueParams, StoreEvents } from '../../src/store/contract.ts';
import {
  createPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from '../../src/store/postgres/postgres-store.ts';
import {
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  terminateConnections,
  uniqueSchema,
} from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

const job = (overrides: Partial<EnqueueParams> = {}): EnqueueParams => ({
  task: 'echo',
  queue: 'default',
  payload: '{}',
  priority: 0,
  runAt: Date.now(),
  maxAttempts: 2,
  timeoutMs: 0,
  uniqueKey: null,
  idempotencyKey: null,
  callbackUrl: null,
  ...overrides,
});

/** A pino-shaped logger that keeps what it is told. */
function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (_fields: unknown, message?: string) =>
    lines.push(`${level}: ${message ?? ''}`);
  const logger = {
    warn: log('warn'),
    info: log('info'),
    error: log('error'),
    debug: log('debug'),
    child: () => logger,
  };
  return logger as unknown as Logger;
}

describe('postgres store: events between processes', () => {
  let schema: string;
  const stores: PostgresStore[] = [];
  const open = async (options: Partial<PostgresStoreOptions> = {}) => {
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      poolSize: 2,
      ...options,
    });
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    await requirePostgres();
    schema = uniqueSchema('events');
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await dropSchema(schema);
  });
  after(() => undefined);

  it('delivers every job event to a store instance on other connections', async () => {
    const here = await open();
    const there = await open();
    const seen: string[] = [];
    const names: Array<Exclude<keyof StoreEvents, 'store:changed'>> = [
      'job:enqueued',
      'job:started',
      'job:progress',
      'job:succeeded',
      'job:retrying',
      'job:failed',
      'job:cancelled',
    ];
    for (const name of names)
      there.on(name, (e) => seen.push(`${name}:${'id' in e ? e.id : ''}:${e.state}`));
    const a = (await here.jobEnqueue(job())).job.id;
    const [claimed] = await here.jobClaim({
      workerId: 'h:1:w',
      queues: [{ name: 'default', limit: 1 }],
      tasks: ['echo'],
      leaseMs: 10_000,
    });
    const lease = { id: claimed!.id, workerId: 'h:1:w', attempt: 1, fence: 1 };
    await here.jobSetProgress({ ...lease, progress: '{"pct":50}' });
    await here.jobRecordOutcomes([
      { kind: 'failed', lease, error: { name: 'Error', message: 'boom' }, retryAt: Date.now() - 1 },
    ]);
    const [second] = await here.jobClaim({
      workerId: 'h:1:w',
      queues: [{ name: 'default', limit: 1 }],
      tasks: ['echo'],
      leaseMs: 10_000,
    });
    await here.jobRecordOutcomes([
      {
        kind: 'succeeded',
        lease: { ...lease, attempt: second!.attempts, fence: second!.fence },
        result: '1',
      },
    ]);
    const c = (await here.jobEnqueue(job())).job.id;
    await here.jobCancel({ id: c });
    const expectedA = [
      `job:enqueued:${a}:queued`,
      `job:started:${a}:running`,
      `job:progress:${a}:running`,
      `job:retrying:${a}:scheduled`,
      `job:started:${a}:running`,
      `job:succeeded:${a}:succeeded`,
    ];
    const expectedC = [`job:enqueued:${c}:queued`, `job:cancelled:${c}:cancelled`];
    await waitFor(() => seen.length >= expectedA.length + expectedC.length, {
      what: 'events at the other instance',
    });
    // Each job's events in the order they happened. Job c's may arrive before job a's success,
    // which waits up to 20 ms to go out with others (every other change announces itself at once).
    assert.deepEqual(
      seen.filter((event) => event.includes(`:${a}:`)),
      expectedA,
    );
    assert.deepEqual(
      seen.filter((event) => event.includes(`:${c}:`)),
      expectedC,
    );
    assert.equal(seen.length, expectedA.length + expectedC.length);
  });

  it('carries progress values and errors in the events', async () => {
    const here = await open();
    const there = await open();
    const progress: unknown[] = [];
    const errors: string[] = [];
    there.on('job:progress', (e) => progress.push(e.progress));
    there.on('job:failed', (e) => errors.push(e.error.message));
    await here.jobEnqueue(job({ maxAttempts: 1 }));
    const [claimed] = await here.jobClaim({
      workerId: 'w',
      queues: [{ name: 'default', limit: 1 }],
      tasks: ['echo'],
      leaseMs: 10_000,
    });
    const lease = { id: claimed!.id, workerId: 'w', attempt: 1, fence: 1 };
    await here.jobSetProgress({ ...lease, progress: '{"pct":75}' });
    await here.jobRecordOutcomes([
      {
        kind: 'failed',
        lease,
        error: { name: 'Error', message: 'x'.repeat(5000), stack: 'y'.repeat(20_000) },
        retryAt: null,
      },
    ]);
    await waitFor(() => errors.length === 1, { what: 'the failure event' });
    assert.deepEqual(progress, [{ pct: 75 }]);
    assert.ok(errors[0]!.startsWith('xxx'), 'a long error arrives cut short, not dropped');
  });

  it('announces bulk enqueues of any size without exceeding the notification limit', async () => {
    const here = await open();
    const there = await open();
    let enqueued = 0;
    there.on('job:enqueued', () => enqueued++);
    await here.jobEnqueueMany(
      Array.from({ length: 12_000 }, (_, n) =>
        job({ payload: String(n), queue: `q-${'x'.repeat(150)}` }),
      ),
    );
    await waitFor(() => enqueued === 12_000, { what: '12 000 enqueue events' });
  });

  it('announces the starts and successes of big batches, grouped, and every one arrives', async () => {
    const here = await open();
    const there = await open();
    const started = new Set<string>();
    const succeeded = new Set<string>();
    there.on('job:started', (event) =>
      started.add(`${event.id}:${event.queue}:${event.task}:${event.attempt}`),
    );
    there.on('job:succeeded', (event) =>
      succeeded.add(`${event.id}:${event.queue}:${event.task}:${event.attempt}`),
    );
    const queue = `q-${'y'.repeat(150)}`;
    await here.jobEnqueueMany(
      Array.from({ length: 1_200 }, (_, n) => job({ task: n % 2 ? 'odd' : 'even', queue })),
    );
    const claimed = await here.jobClaim({
      workerId: 'w',
      queues: [{ name: queue, limit: 2_000 }],
      tasks: ['odd', 'even'],
      leaseMs: 30_000,
    });
    assert.equal(claimed.length, 1_200);
    const accepted = await here.jobRecordOutcomes(
      claimed.map((c) => ({
        kind: 'succeeded' as const,
        lease: { id: c.id, workerId: 'w', attempt: c.attempts, fence: c.fence },
        result: '1',
      })),
    );
    assert.ok(accepted.every(Boolean));
    const expected = claimed.map((c) => `${c.id}:${queue}:${c.task}:1`).sort();
    await waitFor(() => started.size === 1_200 && succeeded.size === 1_200, {
      what: '1 200 start and success events',
    });
    assert.deepEqual([...started].sort(), expected);
    assert.deepEqual([...succeeded].sort(), expected);
  });

  it('wakes a poll-only instance (listen: false) when another process enqueues', async () => {
    const here = await open();
    const polling = await open({ listen: false, pollInterval: 20 });
    let changed = 0;
    polling.on('store:changed', () => changed++);
    await here.jobEnqueue(job());
    await waitFor(() => changed > 0, { what: 'store:changed in poll-only mode' });
  });

  it('listens again after its connections are cut, logs it, and loses nothing', async () => {
    const lines: string[] = [];
    const here = await open({ logger: recordingLogger(lines) });
    const there = await open();
    const heard: string[] = [];
    here.on('job:enqueued', (e) => heard.push(e.id));
    assert.ok((await terminateConnections(schema)) >= 1);
    await waitFor(() => lines.some((line) => /listening again/.test(line)), {
      what: 'the reconnect',
    });
    assert.ok(
      lines.some((line) => /lost the LISTEN connection/.test(line)),
      lines.join('\n'),
    );
    const { job: added } = await there.jobEnqueue(job());
    await waitFor(() => heard.includes(added.id), { what: 'an event after the reconnect' });
    const again = await here.jobEnqueue(job());
    assert.ok(await here.jobGet({ id: again.job.id }));
    assert.equal((await here.jobCount({})).queued, 2);
  });
});
