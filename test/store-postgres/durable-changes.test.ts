import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { EnqueueParams, JobOutcome, LeaseRef } from '../../src/store/contract.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import {
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
  walFlushedPast,
  walInsertPosition,
} from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

/**
 * Statements that announce their own change commit without waiting for the disk (the notify lock
 * is held through a commit's flush), and the store acknowledges them only after a flush: each
 * check reads the WAL position before the change and the flushed position after it resolved, as
 * durable-enqueue.test.ts does for enqueues. Each change is also heard by another instance.
 */
describe('postgres store: changes that announce themselves are on disk when acknowledged', () => {
  const schema = uniqueSchema('durable_changes');
  let store: PostgresStore;
  let other: PostgresStore;
  let client: pg.Client;
  const heard: string[] = [];

  before(async () => {
    await requirePostgres();
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
    other = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
    for (const name of [
      'job:progress',
      'job:retrying',
      'job:failed',
      'job:cancelled',
      'job:enqueued',
      'job:updated',
      'job:removed',
    ] as const) {
      other.on(name, (event) => heard.push(`${name}:${event.id}:${event.state}`));
      other.on(name, (event) => heard.push(`${name}:${event.id}`));
    }
    client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
  });
  after(async () => {
    await client.end();
    await store.close();
    await other.close();
    await dropSchema(schema);
  });

  const job = (overrides: Partial<EnqueueParams> = {}): EnqueueParams => ({
    task: 't',
    queue: 'default',
    payload: '{}',
    priority: 0,
    runAt: Date.now(),
    maxAttempts: 3,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
    ...overrides,
  });
  /** Enqueues a job and claims it; returns its lease. */
  const running = async (
    overrides: Partial<EnqueueParams> = {},
    leaseMs = 60_000,
  ): Promise<LeaseRef> => {
    const { job: added } = await store.jobEnqueue(job(overrides));
    const claimed = await store.jobClaim({
      workerId: 'w',
      queues: [{ name: 'default', limit: 1 }],
      tasks: ['t'],
      leaseMs,
    });
    assert.equal(claimed[0]?.id, added.id);
    return { id: added.id, workerId: 'w', attempt: claimed[0]!.attempts, fence: claimed[0]!.fence };
  };
  /** Runs `change` and checks it was flushed before it resolved and that the other instance heard `event`. */
  const durable = async (what: string, change: () => Promise<unknown>, event: string) => {
    const position = await walInsertPosition(client);
    await change();
    assert.ok(
      await walFlushedPast(client, position),
      `${what} resolved before its commit was flushed`,
    );
    await waitFor(() => heard.includes(event), { what: `${event} at the other instance` });
  };
  const failure = (lease: LeaseRef, retryAt: number | null): JobOutcome => ({
    kind: 'failed',
    lease,
    error: { name: 'Error', message: 'boom' },
    retryAt,
  });

  it('a retry, a final failure and a snooze', async () => {
    const retried = await running();
    await durable(
      'a retry',
      () => store.jobRecordOutcomes([failure(retried, Date.now() + 60_000)]),
      `job:retrying:${retried.id}`,
    );
    const failed = await running({ maxAttempts: 1 });
    await durable(
      'a final failure',
      () => store.jobRecordOutcomes([failure(failed, null)]),
      `job:failed:${failed.id}`,
    );
    const snoozed = await running();
    await durable(
      'a snooze',
      () =>
        store.jobRecordOutcomes([{ kind: 'snoozed', lease: snoozed, runAt: Date.now() + 60_000 }]),
      `job:enqueued:${snoozed.id}`,
    );
  });

  it('a success that makes a webhook delivery job', async () => {
    const lease = await running({ callbackUrl: 'http://127.0.0.1:1/hook' });
    const position = await walInsertPosition(client);
    await store.jobRecordOutcomes([{ kind: 'succeeded', lease, result: '1' }]);
    assert.ok(
      await walFlushedPast(client, position),
      'the success resolved before its commit was flushed',
    );
    const delivery = (await store.jobGet({ id: lease.id }))!.webhookJobId!;
    await waitFor(() => heard.includes(`job:enqueued:${delivery}`), {
      what: 'the delivery job at the other instance',
    });
  });

  it('progress, a cancel, a retry by hand and a lease recovery', async () => {
    const lease = await running();
    await durable(
      'progress',
      () => store.jobSetProgress({ ...lease, progress: '{"pct":10}' }),
      `job:progress:${lease.id}`,
    );
    await durable('a cancel', () => store.jobCancel({ id: lease.id }), `job:cancelled:${lease.id}`);
    heard.length = 0;
    await durable(
      'a retry by hand',
      () => store.jobRetry({ id: lease.id }),
      `job:enqueued:${lease.id}`,
    );
    await store.jobCancel({ id: lease.id });
    const expiring = await running({}, 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await durable(
      'a lease recovery',
      () => store.jobRecoverExpired(),
      `job:retrying:${expiring.id}`,
    );
  });

  it('an update and a removal, heard elsewhere with their run-at and the state the job had', async () => {
    const { job: added } = await store.jobEnqueue(job({ runAt: Date.now() + 60_000 }));
    const runAt = Date.now() + 120_000;
    const updates: number[] = [];
    other.on('job:updated', (event) => updates.push(event.runAt));
    await durable(
      'an update',
      () => store.jobUpdate({ id: added.id, runAt, priority: 2, payload: '{"n":2}' }),
      `job:updated:${added.id}:scheduled`,
    );
    assert.deepEqual(updates, [runAt]);
    await durable(
      'a removal',
      () => store.jobRemove({ id: added.id }),
      `job:removed:${added.id}:scheduled`,
    );
  });
});
