import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
} from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

const FIXTURE = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'pg-worker-process.ts',
);
const JOBS = 20_000;
const WORKERS = 3;
const VICTIM = 'host-0:w0';

interface Run {
  worker: string;
  job: string;
  attempt: number;
  start: number;
  end: number | null;
}

/** One worker process; collects its runs from stdout. */
function startWorker(
  schema: string,
  id: string,
  runs: Run[],
): { child: ChildProcess; ready: Promise<void>; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      OFFLOAD_PG_URL: TEST_PG_URL,
      OFFLOAD_PG_SCHEMA: schema,
      OFFLOAD_WORKER_ID: id,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const open = new Map<string, Run>();
  let onReady: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') return onReady();
    const [kind, job, attempt, at] = line.split(' ');
    const key = `${job}:${attempt}`;
    if (kind === 'start') {
      const run = { worker: id, job: job!, attempt: Number(attempt), start: Number(at), end: null };
      open.set(key, run);
      runs.push(run);
    } else if (kind === 'end') {
      const run = open.get(key);
      if (run) run.end = Number(at);
      open.delete(key);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, ready, exited };
}

describe('postgres store: many worker processes on one database', () => {
  let schema: string;
  let store: PostgresStore;
  const children: ChildProcess[] = [];

  before(async () => {
    await requirePostgres();
    schema = uniqueSchema('hosts');
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema });
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await store.close();
    await dropSchema(schema);
  });

  it(
    `runs ${JOBS} jobs, each under one live lease, with one worker killed mid-way`,
    { timeout: 120_000 },
    async () => {
      const payloads = Array.from({ length: JOBS }, (_, n) => ({
        task: 'work',
        queue: 'default',
        payload: String(n),
        priority: 0,
        runAt: Date.now(),
        maxAttempts: 5,
        timeoutMs: 0,
        uniqueKey: null,
        idempotencyKey: null,
        callbackUrl: null,
      }));
      await store.jobEnqueueMany(payloads);
      const runs: Run[] = [];
      const workers = Array.from({ length: WORKERS }, (_, k) =>
        startWorker(schema, `host-${k}:w${k}`, runs),
      );
      children.push(...workers.map((w) => w.child));
      await Promise.all(workers.map((w) => w.ready));

      const victim = workers[0]!;
      await waitFor(() => runs.filter((r) => r.worker === VICTIM).length >= 2_000, {
        timeoutMs: 60_000,
        what: 'the first worker to be busy',
      });
      const victimLeases = async () =>
        Number(
          (
            await adminQuery<{ n: string }>(
              `SELECT count(*) AS n FROM "${schema}".jobs WHERE state = 'running' AND lease_owner = $1`,
              [VICTIM],
            )
          )[0]!.n,
        );
      // Freeze the victim first, so it cannot finish the jobs it holds between our look and the kill.
      await waitFor(
        async () => {
          victim.child.kill('SIGSTOP');
          if ((await victimLeases()) > 0) return true;
          victim.child.kill('SIGCONT');
          return false;
        },
        { timeoutMs: 30_000, intervalMs: 5, what: 'the first worker to hold leases' },
      );
      victim.child.kill('SIGKILL');
      await victim.exited;

      await waitFor(async () => (await store.jobCount({})).succeeded === JOBS, {
        timeoutMs: 90_000,
        intervalMs: 200,
        what: 'every job to succeed',
      });
      for (const worker of workers.slice(1)) worker.child.kill('SIGTERM');
      await Promise.all(workers.slice(1).map((w) => w.exited));

      const counts = await store.jobCount({});
      assert.deepEqual(
        counts,
        {
          scheduled: 0,
          queued: 0,
          claimed: 0,
          running: 0,
          succeeded: JOBS,
          failed: 0,
          cancelled: 0,
        },
        'none lost, none stuck',
      );

      // The victim's last lines may be lost with it; live workers' lines are complete.
      const byJob = new Map<string, Run[]>();
      for (const run of runs) byJob.set(run.job, [...(byJob.get(run.job) ?? []), run]);
      for (const [job, list] of byJob) {
        const attempts = list.map((r) => r.attempt);
        assert.equal(
          new Set(attempts).size,
          attempts.length,
          `job ${job}: each run has its own attempt (fencing token): ${JSON.stringify(list)}`,
        );
        const live = list.filter((r) => r.worker !== VICTIM);
        assert.ok(
          live.length <= 1,
          `job ${job} ran twice on live workers: ${JSON.stringify(list)}`,
        );
        const dead = list.filter((r) => r.worker === VICTIM);
        for (const r of live)
          assert.ok(
            dead.every((d) => d.start < r.start),
            `job ${job}: a live run began before the dead worker's run`,
          );
      }
      // Jobs that ran again are exactly the jobs whose lease the killed worker held: recovery marks them.
      const again = await adminQuery<{ id: string; error: string | null }>(
        `SELECT id::text, error FROM "${schema}".jobs WHERE attempts > 1`,
      );
      assert.ok(again.length > 0, 'the kill cut runs short, and their jobs ran again');
      for (const row of again) {
        const error = JSON.parse(row.error ?? '{}') as { code?: string; message?: string };
        assert.equal(
          error.code,
          'ERR_WORKER_DIED',
          `job ${row.id} ran again for another reason: ${row.error}`,
        );
        assert.ok(
          error.message?.includes(VICTIM),
          `job ${row.id} was recovered from a live worker: ${error.message}`,
        );
      }
    },
  );
});
