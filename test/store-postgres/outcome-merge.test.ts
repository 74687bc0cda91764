import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClaimedJob } from '../../src/core/job.ts';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';

const WORKER = 'host:1:merge';

/**
 * The PostgreSQL store merges the outcomes of calls that wait behind a statement in flight into one
 * statement. When the database refuses that statement, each call is written alone, so only the
 * call it cannot take fails.
 */
describe('postgres store: merged outcome writes', () => {
  const schema = uniqueSchema('merge');
  let store: Store;
  before(async () => {
    await requirePostgres();
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 });
  });
  after(async () => {
    await store?.close();
    await dropSchema(schema);
  });

  const claim = async (n: number): Promise<ClaimedJob[]> => {
    const job = {
      task: 'echo',
      queue: 'default',
      payload: '{}',
      priority: 0,
      runAt: Date.now(),
      maxAttempts: 3,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
    };
    await store.jobEnqueueMany(Array.from({ length: n }, () => job));
    return store.jobClaim({
      workerId: WORKER,
      queues: [{ name: 'default', limit: n }],
      tasks: ['echo'],
      leaseMs: 10_000,
    });
  };
  const lease = (job: ClaimedJob) => ({
    id: job.id,
    workerId: WORKER,
    attempt: job.attempts,
    fence: job.fence,
  });

  it('fails only the call the database refuses when calls were merged into one statement', async () => {
    const [first, a, bad, b] = await claim(4);
    // The first call is in flight while the next three queue behind it, to be merged into one statement.
    const calls = [
      store.jobRecordOutcomes([{ kind: 'succeeded', lease: lease(first!), result: '0' }]),
      store.jobRecordOutcomes([{ kind: 'succeeded', lease: lease(a!), result: '1' }]),
      // PostgreSQL text cannot hold a NUL character: the database refuses this outcome, not the store's check.
      store.jobRecordOutcomes([
        { kind: 'succeeded', lease: lease(bad!), result: '2', outputTail: 'before\u0000after' },
      ]),
      store.jobRecordOutcomes([{ kind: 'succeeded', lease: lease(b!), result: '3' }]),
    ];
    const settled = await Promise.allSettled(calls);
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value : 'rejected')),
      [[true], [true], 'rejected', [true]],
    );
    const states = await Promise.all(
      [first, a, bad, b].map(async (job) => (await store.jobGet({ id: job!.id }))?.state),
    );
    assert.deepEqual(states, ['succeeded', 'succeeded', 'running', 'succeeded']);
  });
});
