import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { createQueue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { createRunsLog, waitForCancel } from '../fixtures/crash-tasks.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { exited, startWorkerProcess } from '../helpers/processes.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

/** How the worker's process and this one reach the same jobs. */
interface Setup {
  store: Store;
  env: Record<string, string>;
  /** The error code the task's signal aborts with: the cancel event, or the lease renewal that finds the lease gone. */
  abortCode: string;
  cleanup(): Promise<void>;
}

const JOBS = 3;
const temp = makeTempDir('cancel');
let n = 0;
after(() => temp.cleanup());

async function sqlite(): Promise<Setup> {
  const db = path.join(temp.dir, `jobs-${n++}.db`);
  const store = createSqliteStore({ path: db });
  // Another process's SQLite store hears no job events: the worker learns of the cancel when it renews the lease.
  return {
    store,
    env: { OFFLOAD_TEST_DB: db },
    abortCode: 'ERR_LEASE_LOST',
    cleanup: () => store.close(),
  };
}

async function postgres(listen: boolean): Promise<Setup> {
  await requirePostgres();
  const schema = uniqueSchema('cancel');
  const store = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
  return {
    store,
    env: {
      OFFLOAD_TEST_DB: TEST_PG_URL,
      OFFLOAD_TEST_PG_SCHEMA: schema,
      OFFLOAD_TEST_PG_LISTEN: listen ? '1' : '0',
    },
    abortCode: listen ? 'ERR_TASK_CANCELLED' : 'ERR_LEASE_LOST',
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
}

const cases: Array<[string, () => Promise<Setup>]> = [
  ['sqlite: a worker process on the same file', sqlite],
  ['postgres: a worker process listening for events', () => postgres(true)],
  [
    'postgres: a worker process with listen: false, which learns by renewing its leases',
    () => postgres(false),
  ],
];

describe('cancel from another process', () => {
  for (const [label, open] of cases) {
    it(`${label}: the running task's signal aborts, the job ends cancelled, and the run's late result is not recorded`, async () => {
      const setup = await open();
      const runsFile = path.join(temp.dir, `runs-${n++}.db`);
      const runs = createRunsLog(runsFile);
      const aborts = () =>
        runs.prepare('SELECT job, what, pid FROM aborts ORDER BY at').all() as Array<{
          job: number;
          what: string;
          pid: number;
        }>;
      try {
        const queue = createQueue({ store: setup.store, tasks: [waitForCancel] });
        const jobs = await Promise.all(
          Array.from({ length: JOBS }, () => queue.enqueue(waitForCancel, { afterMs: 50 })),
        );
        let finishedAt: Array<number | null> = [];
        const worker = await startWorkerProcess({
          ...setup.env,
          OFFLOAD_TEST_RUNS: runsFile,
          OFFLOAD_TEST_LEASE_MS: '1500',
        });
        try {
          await waitFor(() => count(runs) === JOBS, {
            what: 'the worker process to start every job',
          });
          const cancelled = await Promise.all(
            jobs.map((job) => setup.store.jobCancel({ id: job.id })),
          );
          assert.deepEqual(
            cancelled.map((job) => job.state),
            Array(JOBS).fill('cancelled'),
          );
          finishedAt = cancelled.map((job) => job.finishedAt);
          const returned = () => aborts().filter((row) => row.what === 'returned').length === JOBS;
          await waitFor(returned, {
            what: 'every task to see its signal abort and return',
            timeoutMs: 15_000,
          });
          worker.kill('SIGTERM');
          assert.equal(await exited(worker), 0);
          for (const job of jobs) {
            const seen = aborts().filter(
              (row) => row.job === Number(job.id) && row.what !== 'returned',
            );
            assert.deepEqual(
              seen.map((row) => [row.what, row.pid]),
              [[setup.abortCode, worker.pid]],
              `job ${job.id}'s signal aborted once, for the cancel`,
            );
          }
        } finally {
          if (worker.exitCode === null) worker.kill('SIGKILL');
        }
        // The worker stopped, so any outcome it would record has been written by now.
        for (const [i, job] of jobs.entries()) {
          const after = await setup.store.jobGet({ id: job.id });
          assert.equal(after?.state, 'cancelled');
          assert.equal(after?.result, null, 'the late result was not recorded');
          assert.equal(after?.error, null);
          assert.equal(after?.attempts, 1);
          assert.equal(after?.finishedAt, finishedAt[i], 'nothing was written over the cancel');
        }
        assert.deepEqual(await setup.store.jobCount({}), {
          scheduled: 0,
          queued: 0,
          claimed: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: JOBS,
        });
      } finally {
        runs.close();
        await setup.cleanup();
      }
    });
  }
});

function count(runs: Database.Database): number {
  return (runs.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
}
