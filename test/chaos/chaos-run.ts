/**
 * One chaos run, shared by the short form in `npm test` and the long form of `npm run chaos`:
 * jobs posted over HTTP in batches with idempotency keys, worker processes SIGKILLed at random and
 * restarted, the server process SIGKILLed mid-enqueue and restarted, and on PostgreSQL the
 * database's connections cut (or the server restarted) once. Returns what happened; the callers assert.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createRunsLog } from '../fixtures/crash-tasks.ts';
import { adminQuery, terminateConnections } from '../helpers/postgres.ts';
import { startFixture, stopFixture, type Fixture } from './processes.ts';
import { openRunStore, type StoreKind } from './run-store.ts';

export type { StoreKind } from './run-store.ts';

export interface ChaosOptions {
  store: StoreKind;
  jobs: number;
  workers: number;
  /** Mean time between two worker kills (each ±50 %). */
  killEveryMs: number;
  /**
   * On PostgreSQL, once mid-run: restart the database server with this function. Without it, the
   * run cuts its own schema's connections instead (pg_terminate_backend), which is safe beside other tests.
   */
  restartDatabase?: () => void;
  /** A folder for the SQLite files. */
  dir: string;
  log?: (line: string) => void;
}

export interface ChaosReport {
  store: StoreKind;
  jobs: number;
  acknowledged: number;
  succeeded: number;
  /** Acknowledged jobs that did not end succeeded. Must be 0. */
  lost: string[];
  /** Jobs in any state but succeeded at the end (running, queued, failed…). Must be 0. */
  unfinished: number;
  /** Jobs in the store beyond the acknowledged ones (a retried batch made twice). Must be 0. */
  duplicateJobs: number;
  workerKills: number;
  serverKills: number;
  databaseCuts: number;
  runs: number;
  /** Runs beyond one per job. */
  extraRuns: number;
  /** Extra runs whose worker was neither killed nor cut off from the database. Must be empty. */
  unexplained: string[];
  /**
   * From a worker kill to the rerun of each job it held, ms: lease expiry (1 s) and recovery, then
   * the wait in line, since a recovered job is queued again behind the jobs already waiting.
   */
  rerunMs: { median: number; max: number };
  /** From a worker kill to its replacement process claiming again, ms. */
  restartMs: { median: number; max: number };
  /** From the server kill to the next acknowledged batch, ms. */
  serverRecoveryMs: number;
  durationMs: number;
}

const BATCH = 20;
const SENDERS = 4;
/** Runs that began this long after a database cut may still have lost their outcome to it. */
const CUT_WINDOW_MS = 3_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const runsFile = path.join(options.dir, `runs-${options.store}-${started}.db`);
  const {
    store,
    schema,
    file,
    env: storeEnv,
    close,
  } = await openRunStore(options.store, options.dir, 'chaos');
  const runsDb = createRunsLog(runsFile);
  const env = {
    ...storeEnv,
    OFFLOAD_TEST_RUNS: runsFile,
    OFFLOAD_CHAOS_LEASE_MS: '1000',
    OFFLOAD_CHAOS_CONCURRENCY: '10',
  };

  const startServer = async () => {
    const fixture = await startFixture('chaos-server.ts', env, /^listening (\S+) (\S+)$/m);
    const [, url, token] = /^listening (\S+) (\S+)$/.exec(fixture.line)!;
    fixture.child.stderr!.on('data', (chunk: Buffer) => log(`server: ${chunk.toString().trim()}`));
    void fixture.exited.then((how) => log(`server ${fixture.child.pid} exited: ${how}`));
    return { fixture, url: url!, token: token! };
  };
  const startWorker = () => startFixture('chaos-worker.ts', env);
  /** Like a supervisor: start again until it comes up (a worker cannot start while the database restarts). */
  const restart = async <T>(start: () => Promise<T>): Promise<T> => {
    for (let tries = 1; ; tries++) {
      try {
        return await start();
      } catch (error) {
        if (tries === 50) throw error;
        log(`restart failed (${(error as Error).message.split('\n')[0]}); trying again`);
        await sleep(200);
      }
    }
  };

  const kills: Array<{ pid: number; at: number }> = [];
  const restarts: number[] = [];
  const cuts: Array<{ from: number; to: number }> = [];
  let server = await startServer();
  let serverUp: Promise<typeof server> = Promise.resolve(server);
  const slots: Array<Fixture | Promise<Fixture>> = await Promise.all(
    Array.from({ length: options.workers }, startWorker),
  );
  let serverKilledAt = 0;
  let serverRecoveryMs = 0;
  const acked = new Set<string>();
  let chaos = true;

  const killServerOnce = () => {
    if (serverKilledAt) return;
    serverKilledAt = Date.now();
    log(
      `killing the server (pid ${server.fixture.child.pid}) after ${acked.size} acknowledged jobs`,
    );
    server.fixture.child.kill('SIGKILL');
    serverUp = server.fixture.exited
      .then(() => restart(startServer))
      .then((next) => (server = next));
  };

  const batches = Math.ceil(options.jobs / BATCH);
  let nextBatch = 0;
  const send = async () => {
    for (let b = nextBatch++; b < batches; b = nextBatch++) {
      const jobs = [];
      for (let n = b * BATCH; n < Math.min(options.jobs, (b + 1) * BATCH); n++)
        jobs.push({ task: 'work', payload: { ms: 2 }, idempotencyKey: `chaos-${n}` });
      for (;;) {
        const { url, token } = await serverUp;
        const sentAt = Date.now();
        try {
          const response = await fetch(`${url}/v1/jobs/batch`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ jobs }),
          });
          const body = (await response.json()) as { jobs?: Array<{ id: string }> };
          if (response.status === 202 && body.jobs) {
            for (const job of body.jobs) acked.add(job.id);
            if (serverKilledAt && sentAt > serverKilledAt && !serverRecoveryMs)
              serverRecoveryMs = Date.now() - serverKilledAt;
            break;
          }
          if (response.status < 500)
            throw new Error(`batch ${b} refused with ${response.status}: ${JSON.stringify(body)}`);
          log(`batch ${b}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
        } catch (error) {
          if ((error as Error).message.startsWith('batch')) throw error;
        }
        await sleep(50);
      }
      if (acked.size >= options.jobs / 3) killServerOnce();
    }
  };

  const killer = (async () => {
    while (chaos) {
      await sleep(options.killEveryMs * (0.5 + Math.random()));
      if (!chaos) break;
      const i = Math.floor(Math.random() * slots.length);
      const slot = slots[i]!;
      if (slot instanceof Promise) continue;
      kills.push({ pid: slot.child.pid!, at: Date.now() });
      slot.child.kill('SIGKILL');
      const killedAt = Date.now();
      slots[i] = slot.exited
        .then(() => restart(startWorker))
        .then((fresh) => {
          restarts.push(Date.now() - killedAt);
          return (slots[i] = fresh);
        });
    }
  })();

  const succeeded = async () => (await store.jobCount({})).succeeded;
  const disrupt = async () => {
    if (options.store !== 'postgres') return;
    while ((await succeeded()) < options.jobs / 2) await sleep(100);
    log('disrupting the database');
    const from = Date.now();
    if (options.restartDatabase) {
      log('restarting the PostgreSQL server');
      options.restartDatabase();
      log('PostgreSQL is back');
    } else {
      log(`cut ${await terminateConnections(schema)} connections of schema ${schema}`);
    }
    cuts.push({ from, to: Date.now() });
  };

  try {
    const disruption = disrupt();
    await Promise.all(Array.from({ length: SENDERS }, send));
    log(`${acked.size} jobs acknowledged in ${Date.now() - started} ms`);
    await disruption;
    for (
      let at = Date.now(), done = 0, said = 0;
      (done = await succeeded().catch(() => 0)) < options.jobs * 0.95;
    ) {
      if (Date.now() - at > 600_000)
        throw new Error(`chaos: jobs stopped finishing under the kills (${done} succeeded)`);
      if (Date.now() - said > 5_000) {
        log(`${done} succeeded, ${kills.length} worker kills`);
        said = Date.now();
      }
      await sleep(200);
    }
    chaos = false;
    await killer;
    log(`${kills.length} worker kills; waiting for the rest`);
    const deadline = Date.now() + 120_000;
    while ((await succeeded().catch(() => 0)) < acked.size) {
      if (Date.now() > deadline) break;
      await sleep(200);
    }
  } finally {
    chaos = false;
    const live = await Promise.all(slots);
    await Promise.all(live.map((fixture) => stopFixture(fixture)));
    await stopFixture((await serverUp).fixture);
  }

  const states =
    options.store === 'postgres'
      ? await adminQuery<{ id: string; state: string }>(
          `SELECT id::text AS id, state FROM "${schema}".jobs`,
        )
      : (new Database(file, { readonly: true })
          .prepare('SELECT CAST(id AS TEXT) AS id, state FROM offload_jobs')
          .all() as Array<{ id: string; state: string }>);
  const stateOf = new Map(states.map((row) => [row.id, row.state]));
  const lost = [...acked].filter((id) => stateOf.get(id) !== 'succeeded');
  const unfinished = states.filter((row) => row.state !== 'succeeded').length;

  const runs = runsDb
    .prepare('SELECT job, attempt, pid, at FROM runs ORDER BY at, rowid')
    .all() as Array<{ job: number; attempt: number; pid: number; at: number }>;
  runsDb.close();
  const killedAt = new Map(kills.map((kill) => [kill.pid, kill.at]));
  const byJob = new Map<number, typeof runs>();
  for (const run of runs) byJob.set(run.job, [...(byJob.get(run.job) ?? []), run]);
  const unexplained: string[] = [];
  const recoveries: number[] = [];
  for (const [job, list] of byJob) {
    for (let k = 0; k < list.length - 1; k++) {
      const run = list[k]!;
      const killed = killedAt.get(run.pid);
      if (killed !== undefined && killed >= run.at) recoveries.push(list[k + 1]!.at - killed);
      else if (!cuts.some((cut) => run.at <= cut.to + CUT_WINDOW_MS && list[k + 1]!.at >= cut.from))
        unexplained.push(`job ${job}: ${JSON.stringify(list)}`);
    }
  }
  const spread = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { median: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 };
  };
  await close();

  return {
    store: options.store,
    jobs: options.jobs,
    acknowledged: acked.size,
    succeeded: states.filter((row) => row.state === 'succeeded').length,
    lost,
    unfinished,
    duplicateJobs: states.length - acked.size,
    workerKills: kills.length,
    serverKills: serverKilledAt ? 1 : 0,
    databaseCuts: cuts.length,
    runs: runs.length,
    extraRuns: runs.length - byJob.size,
    unexplained,
    rerunMs: spread(recoveries),
    restartMs: spread(restarts),
    serverRecoveryMs,
    durationMs: Date.now() - started,
  };
}
