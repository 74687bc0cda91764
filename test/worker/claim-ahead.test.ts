import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { createQueue } from '../../src/queue/queue.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

const runs = new Map<string, number>();
let inFlight = 0;
let maxInFlight = 0;
const quick = defineTask({
  name: 'quick',
  run: async (_: unknown, ctx) => {
    runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await Promise.resolve();
    inFlight--;
  },
});
const silent = pino({ level: 'silent' });

describe('worker claim-ahead (PostgreSQL)', () => {
  const schema = uniqueSchema('claim_ahead');
  let store: PostgresStore;
  before(async () => {
    await requirePostgres();
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
  });
  after(async () => {
    await store?.close();
    await dropSchema(schema);
  });

  it('claims short jobs ahead of free capacity, yet runs no more than the concurrency at once', async () => {
    const queue = createQueue({ store, tasks: [quick] });
    const jobs = await queue.enqueueMany(
      Array.from({ length: 3000 }, (_, i) => ({ task: quick, payload: { i } })),
    );
    let claimed = 0;
    let started = 0;
    let mostAhead = 0;
    const off = store.on(
      'job:started',
      () => void (claimed++, (mostAhead = Math.max(mostAhead, claimed - started))),
    );
    const worker = createWorker({ store, tasks: [quick], concurrency: 20, logger: silent });
    worker.on('job:start', () => started++);
    await worker.start();
    try {
      await waitFor(async () => (await store.jobCount({})).succeeded === jobs.length, {
        timeoutMs: 60_000,
        what: 'every job to succeed',
      });
    } finally {
      off();
      await worker.stop();
    }
    assert.ok(maxInFlight <= 20, `ran ${maxInFlight} at once with concurrency 20`);
    assert.ok(mostAhead > 0, 'the worker never held a job claimed ahead');
    assert.deepEqual([...new Set(jobs.map((job) => runs.get(job.id)))], [1]);
  });

  it('on stop, hands jobs claimed ahead back unstarted: none stays running, no attempt is spent, another worker runs them', async () => {
    await store.jobDeleteFinished({ before: Date.now() + 1 });
    const kept = (await store.jobCount({})).succeeded; // retention keeps the newest job of the store
    runs.clear();
    const queue = createQueue({ store, tasks: [quick] });
    const jobs = await queue.enqueueMany(
      Array.from({ length: 5000 }, (_, i) => ({ task: quick, payload: { i } })),
    );
    const first = createWorker({ store, tasks: [quick], concurrency: 10, logger: silent });
    await first.start();
    await waitFor(async () => (await store.jobCount({})).succeeded - kept >= 500, {
      timeoutMs: 60_000,
      what: '500 jobs to succeed',
    });
    await first.stop();
    const counts = await store.jobCount({});
    assert.equal(counts.running, 0, 'a job stayed running after its worker stopped');
    assert.ok(counts.queued > 0, 'the backlog was gone before the stop; nothing tested');
    const queued = (await store.jobList({ state: 'queued', limit: 1000 })).jobs;
    assert.deepEqual([...new Set(queued.map((job) => job.attempts))], [0]);

    const second = createWorker({ store, tasks: [quick], logger: silent });
    await second.start();
    try {
      await waitFor(async () => (await store.jobCount({})).succeeded - kept === jobs.length, {
        timeoutMs: 60_000,
        what: 'the rest to succeed',
      });
    } finally {
      await second.stop();
    }
    assert.deepEqual([...new Set(jobs.map((job) => runs.get(job.id)))], [1]);
  });
});
