import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
  urlAs,
  walFlushedPast as flushedPastOn,
  walInsertPosition as walInsertPositionOn,
} from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

const report = defineTask({ name: 'report', run: async () => 'done' });

/**
 * The store's own inserts commit without waiting for the disk, so a worker can see the job at once;
 * the enqueue is acknowledged only after a flush. Each check reads the WAL position before the
 * enqueue and the flushed position after its acknowledgement: the insert's commit record lies
 * after the first, so the second must be past it. With a quiet server and no flush, WAL written by
 * an asynchronous commit stays unflushed for up to wal_writer_delay (200 ms by default).
 */
describe('postgres store: enqueues are on disk when acknowledged', () => {
  const schema = uniqueSchema('durable');
  let store: PostgresStore;
  let other: PostgresStore;
  let queue: Queue;
  let client: pg.Client;

  before(async () => {
    await requirePostgres();
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
    other = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
    queue = createQueue({ store, tasks: [report] });
    client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
  });
  after(async () => {
    await client.end();
    await store.close();
    await other.close();
    await dropSchema(schema);
  });

  const walInsertPosition = () => walInsertPositionOn(client);
  const flushedPast = (lsn: string) => flushedPastOn(client, lsn);

  it('one job at a time: 20 enqueues, each flushed before it resolves', async () => {
    for (let i = 0; i < 20; i++) {
      const before = await walInsertPosition();
      await queue.enqueue(report, { i });
      assert.ok(await flushedPast(before), `enqueue ${i} resolved before its commit was flushed`);
    }
  });

  it('many jobs at once, in one statement and in a transaction of several', async () => {
    for (const count of [10, 2_500]) {
      const before = await walInsertPosition();
      const jobs = await queue.enqueueMany(
        Array.from({ length: count }, (_, i) => ({ task: report, payload: { i } })),
      );
      assert.equal(jobs.length, count);
      assert.ok(
        await flushedPast(before),
        `enqueueMany(${count}) resolved before its commit was flushed`,
      );
    }
  });

  it('a job taken by its unique key is flushed too before the enqueue that found it resolves', async () => {
    await queue.enqueue(report, {}, { uniqueKey: 'nightly' });
    const before = await walInsertPosition();
    const again = await queue.enqueueWithResult(report, {}, { uniqueKey: 'nightly' });
    assert.equal(again.created, false);
    assert.ok(await flushedPast(before));
  });

  it('concurrent enqueues share flushes, and each still resolves after its own commit is flushed', async () => {
    const before = await walInsertPosition();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => queue.enqueue(report, { i })),
    );
    assert.equal(new Set(results.map((job) => job.id)).size, 40);
    assert.ok(await flushedPast(before));
  });

  it('announces each new job to other store instances from the insert itself', async () => {
    const seen: string[] = [];
    const stop = other.on('job:enqueued', (event) => seen.push(event.id));
    try {
      const single = await queue.enqueue(report, { single: true });
      const many = await queue.enqueueMany([
        { task: report, payload: { a: 1 } },
        { task: report, payload: { b: 2 } },
      ]);
      const expected = [single.id, ...many.map((job) => job.id)];
      await waitFor(() => expected.every((id) => seen.includes(id)), {
        what: 'the announcements of three jobs',
      });
      assert.deepEqual(
        seen.filter((id) => expected.includes(id)),
        expected,
      );
    } finally {
      stop();
    }
  });
});

/**
 * Managed servers may revoke or lack pg_logical_emit_message. Function privileges live in each
 * database, so the test revokes it in a database of its own and connects as a role that is not a
 * superuser (superusers pass every privilege check).
 */
describe('postgres store: enqueues where the flush function may not run', () => {
  const suffix = uniqueSchema('noflush').slice(2);
  const database = `offload_${suffix}`;
  const role = `offload_${suffix}`;
  const lines: string[] = [];
  let store: PostgresStore;
  let other: PostgresStore;
  let client: pg.Client;

  before(async () => {
    await requirePostgres();
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    await adminQuery(`CREATE DATABASE ${database} OWNER ${role}`);
    const url = new URL(urlAs(role));
    url.pathname = `/${database}`;
    const adminUrl = new URL(TEST_PG_URL);
    adminUrl.pathname = `/${database}`;
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    await admin.query(
      'REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) FROM PUBLIC',
    );
    await admin.end();
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    store = await createPostgresStore({ connectionString: url.toString(), logger });
    other = await createPostgresStore({ connectionString: url.toString(), logger });
    client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await store?.close();
    await other?.close();
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
  });

  it('says so at start, and still resolves each enqueue only once it is on disk and announced', async () => {
    assert.ok(
      lines.some((line) => line.includes('may not run pg_logical_emit_message')),
      `no warning in: ${lines.join('')}`,
    );
    const queue = createQueue({ store, tasks: [report] });
    const seen: string[] = [];
    other.on('job:enqueued', (event) => seen.push(event.id));
    const expected: string[] = [];
    for (let i = 0; i < 5; i++) {
      const before = await walInsertPositionOn(client);
      expected.push((await queue.enqueue(report, { i })).id);
      assert.ok(
        await flushedPastOn(client, before),
        `enqueue ${i} resolved before its commit was flushed`,
      );
    }
    expected.push(
      ...(
        await queue.enqueueMany([
          { task: report, payload: {} },
          { task: report, payload: {} },
        ])
      ).map((job) => job.id),
    );
    await waitFor(() => expected.every((id) => seen.includes(id)), {
      what: 'the announcements of seven jobs',
    });
    assert.equal((await queue.countJobs()).queued, 7);
  });

  it('commits the changes that announce themselves durably, and announces them', async () => {
    const heard: string[] = [];
    other.on('job:retrying', (event) => heard.push(event.id));
    const [claimed] = await store.jobClaim({
      workerId: 'w',
      queues: [{ name: 'default', limit: 1 }],
      tasks: ['report'],
      leaseMs: 60_000,
    });
    const lease = {
      id: claimed!.id,
      workerId: 'w',
      attempt: claimed!.attempts,
      fence: claimed!.fence,
    };
    const before = await walInsertPositionOn(client);
    await store.jobRecordOutcomes([
      {
        kind: 'failed',
        lease,
        error: { name: 'Error', message: 'boom' },
        retryAt: Date.now() + 60_000,
      },
    ]);
    assert.ok(
      await flushedPastOn(client, before),
      'the retry resolved before its commit was flushed',
    );
    await waitFor(() => heard.includes(lease.id), { what: 'the retry at the other instance' });
  });
});
