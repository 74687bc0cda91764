import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createQueue, defineTask, OffloadError } from '../../src/index.ts';
import { createSqliteStore } from '../../src/store/sqlite/index.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

const temp = makeTempDir('sqlite-bulk');
after(() => temp.cleanup());
const file = (name: string) => path.join(temp.dir, name);
const code = (expected: string) => (error: unknown) =>
  error instanceof OffloadError && error.code === expected;

const jobParams = () => ({
  task: 'a',
  queue: 'default',
  payload: '{}',
  priority: 0,
  runAt: Date.now(),
  maxAttempts: 1,
  timeoutMs: 0,
  uniqueKey: null,
  idempotencyKey: null,
  callbackUrl: null,
});

describe('SQLite bulk and grouped enqueue, checkpoints', () => {
  const a = defineTask({ name: 'a', run: async () => null });
  const b = defineTask({
    name: 'b',
    queue: 'other',
    priority: 3,
    attempts: 5,
    run: async () => null,
  });

  it('stores a bulk enqueue of shared and mixed settings in input order, as returned', async () => {
    const store = createSqliteStore({ path: file('bulk.db') });
    const queue = createQueue({ store, tasks: [a, b] });
    const items = Array.from({ length: 700 }, (_, n) => {
      if (n < 300) return { task: a, payload: { n } };
      if (n < 500) return { task: n % 2 ? a : b, payload: { n, text: 'é€😀' } };
      return {
        task: b,
        payload: { n, at: new Date(0), gone: undefined },
        options: {
          delay: n === 600 ? 60_000 : 0,
          callbackUrl: n === 650 ? 'https://example.com/hook' : undefined,
        },
      };
    });
    const jobs = await queue.enqueueMany(items);
    assert.equal(jobs.length, items.length);
    for (const [n, job] of jobs.entries()) {
      const stored = await store.jobGet({ id: job.id });
      assert.deepEqual(stored, job, `job ${n} as returned is as stored`);
      assert.equal((job.payload as { n: number }).n, n);
      assert.equal(job.task, n < 300 || (n < 500 && n % 2) ? 'a' : 'b');
    }
    assert.equal(jobs[600]!.state, 'scheduled');
    assert.equal(jobs[650]!.callbackUrl, 'https://example.com/hook');
    assert.deepEqual(jobs[520]!.payload, { n: 520, at: new Date(0).toJSON() });
    assert.deepEqual(
      jobs.map((job) => Number(job.id)),
      jobs.map((_, n) => Number(jobs[0]!.id) + n),
      'consecutive ids',
    );
    const counts = await store.jobCount({});
    assert.equal(counts.queued + counts.scheduled, 700);
    await store.close();
  });

  it('counts UTF-8 bytes against the payload limit, however short the text', async () => {
    const store = createSqliteStore({ path: file('bytes.db') });
    const queue = createQueue({ store, tasks: [a], maxPayloadBytes: 1000 });
    await queue.enqueue(a, '€'.repeat(330)); // 992 bytes of JSON
    await assert.rejects(queue.enqueue(a, '€'.repeat(340)), code('ERR_PAYLOAD_TOO_LARGE'));
    await assert.rejects(
      queue.enqueueMany([
        { task: a, payload: 1 },
        { task: a, payload: ['😀'.repeat(300)] },
      ]),
      /item 1: .* over the limit of 1000/,
    );
    await assert.rejects(queue.enqueue(a, [1, undefined]), /\$\[1\] is undefined/);
    await assert.rejects(
      queue.enqueue(a, { deep: { map: new Map() } }),
      /\$\.deep\.map is a Map instance/,
    );
    assert.equal((await store.jobList({})).jobs.length, 1, 'nothing half-written');
    await store.close();
  });

  it('commits concurrent single enqueues together, each resolving after its commit', async () => {
    const path = file('group.db');
    const store = createSqliteStore({ path });
    const queue = createQueue({ store, tasks: [a, b] });
    const reader = new Database(path, { readonly: true });
    const committed = reader.prepare('SELECT payload FROM offload_jobs WHERE id = ?').pluck();
    const jobs = await Promise.all(
      Array.from({ length: 300 }, async (_, n) => {
        const job = await queue.enqueue(n % 3 ? a : b, { n });
        assert.equal(
          committed.get(Number(job.id)),
          JSON.stringify({ n }),
          `job ${n} is committed when its promise resolves`,
        );
        return job;
      }),
    );
    assert.equal(new Set(jobs.map((job) => job.id)).size, 300);
    for (const job of jobs) assert.deepEqual(await store.jobGet({ id: job.id }), job);
    const late = store.jobEnqueue({ ...jobParams(), payload: '{"late":true}' });
    await store.close();
    const { job } = await late;
    assert.equal(
      committed.get(Number(job.id)),
      '{"late":true}',
      'an enqueue pending at close is committed',
    );
    reader.close();
  });

  it('copies the write-ahead log into the database file on its timer, not in commits', async () => {
    const path = file('checkpoint.db');
    const store = createSqliteStore({ path, checkpointInterval: 20 });
    const queue = createQueue({ store, tasks: [a] });
    await queue.enqueueMany(Array.from({ length: 5000 }, (_, n) => ({ task: a, payload: { n } })));
    const mainFileRows = () => {
      fs.copyFileSync(path, file('copy.db'));
      const copy = new Database(file('copy.db'), { readonly: true });
      try {
        return (copy.prepare('SELECT count(*) AS n FROM offload_jobs').get() as { n: number }).n;
      } catch {
        return 0;
      } finally {
        copy.close();
      }
    };
    await waitFor(() => mainFileRows() === 5000, {
      what: 'the checkpoint timer to move the jobs into the main file',
    });
    assert.equal((await store.jobCount({})).queued, 5000);
    await store.close();
  });
});
