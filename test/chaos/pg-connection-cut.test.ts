import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EnqueueParams } from '../../src/store/contract.ts';
import { createPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, terminateConnections, uniqueSchema } from '../helpers/postgres.ts';

/** Found by the chaos suite: a connection cut inside an enqueue transaction ended the whole process. */
describe('postgres store: connections cut in the middle of transactions', () => {
  let schema: string;
  let store: PostgresStore;
  before(async () => {
    await requirePostgres();
    schema = uniqueSchema('cut');
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 });
  });
  after(async () => {
    await store.close();
    await dropSchema(schema);
  });

  it('fails the cut transactions, keeps the process alive, and commits each batch all or none', { timeout: 60_000 }, async () => {
    const batch = (b: number): EnqueueParams[] =>
      Array.from({ length: 50 }, (_, n) => ({
        task: 'work', queue: 'default', payload: '{}', priority: 0, runAt: Date.now(), maxAttempts: 3, timeoutMs: 0, uniqueKey: null, idempotencyKey: `cut-${b}-${n}`, callbackUrl: null,
      }));
    let cut = 0;
    let failed = 0;
    let committed = 0;
    for (let round = 0; round < 8; round++) {
      const writes = Array.from({ length: 4 }, (_, k) => store.jobEnqueueMany(batch(round * 4 + k)).then(() => committed++, () => failed++));
      await new Promise((resolve) => setTimeout(resolve, 5 + round * 3));
      cut += await terminateConnections(schema);
      await Promise.all(writes);
    }
    assert.ok(cut > 0, 'connections were cut');
    assert.ok(failed > 0, 'some transactions were cut short');
    const counts = await store.jobCount({});
    assert.equal(counts.queued % 50, 0, `each batch committed whole or not at all (${counts.queued} jobs)`);
    assert.equal(counts.queued, committed * 50);
    await store.jobEnqueueMany(batch(1000));
    assert.equal((await store.jobCount({})).queued, (committed + 1) * 50, 'the store works after the cuts');
  });
});
