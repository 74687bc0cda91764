import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createQueue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

/**
 * A worker and a second store instance on the same data, as another process would have. The
 * worker's instance hears nothing of the other's changes but through its own polling (SQLite: no
 * data_version watch; PostgreSQL: `listen: false`).
 */
interface Backend {
  name: string;
  /** The worker's store, deaf to other instances. */
  deaf(): Promise<Store>;
  /** Another instance, as another process would open. */
  other(): Promise<Store>;
  destroy(): Promise<void>;
}

function sqliteBackend(): Backend {
  const { dir, cleanup } = makeTempDir('lease-life');
  const file = path.join(dir, 'jobs.db');
  return {
    name: 'sqlite',
    deaf: async () => createSqliteStore({ path: file, watchInterval: 0 }),
    other: async () => createSqliteStore({ path: file }),
    destroy: async () => cleanup(),
  };
}

function postgresBackend(): Backend {
  const schema = uniqueSchema('leaselife');
  return {
    name: 'postgres',
    deaf: async () => {
      await requirePostgres();
      return createPostgresStore({
        connectionString: TEST_PG_URL,
        schema,
        listen: false,
        pollInterval: 60_000,
      });
    },
    other: async () => createPostgresStore({ connectionString: TEST_PG_URL, schema }),
    destroy: () => dropSchema(schema),
  };
}

for (const make of [sqliteBackend, postgresBackend]) {
  const backend = make();
  describe(`worker leases over a job's life: ${backend.name}`, () => {
    after(() => backend.destroy());

    it('a run cancelled and retried before its worker heard of it cannot record its result over the new run', async () => {
      const gates: Array<() => void> = [];
      const runs: number[] = [];
      const gated = defineTask({
        name: 'gated',
        run: async (_: unknown, ctx) => {
          const run = runs.push(ctx.job.attempt);
          await new Promise<void>((resolve) => gates.push(resolve));
          return `run ${run}`;
        },
      });
      const store = await backend.deaf();
      const other = await backend.other();
      const worker = createWorker({ store, tasks: [gated], pollInterval: 20, blockThreshold: 0 });
      const queue = createQueue({ store: other, tasks: [gated] });
      try {
        const ends: unknown[] = [];
        worker.on('job:end', (ended) => ends.push(ended));
        await worker.start();
        const job = await queue.enqueue(gated, {});
        await waitFor(() => runs.length === 1, { what: 'the first run to start' });
        await queue.cancel(job.id);
        await queue.retry(job.id);
        await waitFor(() => runs.length === 2, {
          what: 'the retried job to start in the same worker',
        });
        assert.deepEqual(runs, [1, 1], 'both runs are attempt 1: a retry resets the attempts');
        gates[0]!();
        await waitFor(() => ends.length === 1, { what: 'the cancelled run to end' });
        assert.equal(worker.running, 1, 'the retried run is still running');
        assert.equal(
          (await queue.getJob(job.id))?.state,
          'running',
          'the cancelled run recorded an outcome over the live one',
        );
        gates[1]!();
        await waitFor(async () => (await queue.getJob(job.id))?.state === 'succeeded', {
          what: 'the retried run to succeed',
        });
        assert.equal((await queue.getJob(job.id))?.result, 'run 2');
      } finally {
        gates.forEach((open) => open());
        await worker.stop();
        await other.close();
        await store.close();
      }
    });

    it('keeps the last progress a task reported before it returned, on every job', async () => {
      const report = defineTask({
        name: 'report',
        run: async (payload: { n: number }, ctx) => {
          ctx.progress({ step: 1 });
          ctx.progress({ step: 'last', n: payload.n });
          return payload.n;
        },
      });
      const store = await backend.other();
      const worker = createWorker({ store, tasks: [report], blockThreshold: 0 });
      const queue = createQueue({ store, tasks: [report] });
      try {
        await worker.start();
        const jobs = await queue.enqueueMany(
          Array.from({ length: 200 }, (_, n) => ({ task: report, payload: { n } })),
        );
        await waitFor(
          async () => (await queue.countJobs({ task: 'report' })).succeeded === jobs.length,
          { what: 'every job to succeed' },
        );
        const { jobs: done } = await queue.listJobs({ task: 'report', limit: 1000 });
        const lost = done.filter(
          (job) => (job.progress as { step?: unknown } | null)?.step !== 'last',
        );
        assert.deepEqual(
          lost.map((job) => [job.id, job.progress]),
          [],
        );
      } finally {
        await worker.stop();
        await store.close();
      }
    });

    it('counts jobs claimed ahead as claimed, so running means running', async () => {
      const quick = defineTask({ name: 'quick', run: async () => null });
      const gates: Array<() => void> = [];
      const hold = defineTask({
        name: 'hold',
        run: () => new Promise<void>((resolve) => gates.push(resolve)),
      });
      const store = await backend.other();
      const worker = createWorker({
        store,
        tasks: [quick, hold],
        concurrency: 2,
        blockThreshold: 0,
      });
      const queue = createQueue({ store, tasks: [quick, hold] });
      try {
        await worker.start();
        // A fast queue teaches the worker to claim ahead.
        await queue.enqueueMany(Array.from({ length: 600 }, () => ({ task: quick, payload: {} })));
        await waitFor(async () => (await queue.countJobs({ task: 'quick' })).succeeded === 600, {
          what: 'the quick jobs',
          timeoutMs: 90_000,
        });
        await queue.enqueueMany(Array.from({ length: 12 }, () => ({ task: hold, payload: {} })));
        await waitFor(() => gates.length === 2 && worker.claimed > 0, {
          what: 'two running jobs and some claimed ahead',
        });
        // A job claimed ahead that started reads as running once its start is recorded (within 100 ms).
        let counts = await queue.countJobs({ task: 'hold' });
        await waitFor(
          async () => (counts = await queue.countJobs({ task: 'hold' })).claimed === worker.claimed,
          { what: 'the starts to be recorded' },
        );
        assert.equal(counts.running, 2, `running ${counts.running}, claimed ${counts.claimed}`);
        assert.equal(counts.queued + counts.claimed + counts.running, 12);
        const claimed = await queue.listJobs({ state: 'claimed' });
        assert.ok(
          claimed.jobs.every((job) => job.startedAt === null && job.leaseOwner === worker.id),
        );
        gates.splice(0).forEach((open) => open());
        await waitFor(
          async () => {
            gates.splice(0).forEach((open) => open());
            return (await queue.countJobs({ task: 'hold' })).succeeded === 12;
          },
          { what: 'every held job to run' },
        );
        const { jobs } = await queue.listJobs({ task: 'hold' });
        assert.ok(
          jobs.every((job) => job.startedAt !== null),
          'a job claimed ahead gets its start time when it starts',
        );
      } finally {
        gates.forEach((open) => open());
        await worker.stop();
        await store.close();
      }
    });
  });
}
