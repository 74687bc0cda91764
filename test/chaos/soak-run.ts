/**
 * One soak run, shared by the short form in `npm test` and the long form of `npm run chaos`:
 * no-op jobs posted over HTTP to one server process and run by one worker process, with the
 * backlog kept bounded, while the resident memory of both processes and the size of the database
 * are sampled. Finished jobs are deleted by the worker's retention, so the database must stay flat.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminQuery } from '../helpers/postgres.ts';
import { rssOf, startFixture, stopFixture } from './processes.ts';
import { openRunStore, type StoreKind } from './run-store.ts';

export interface SoakOptions {
  store: StoreKind;
  jobs: number;
  dir: string;
  /** Finished jobs older than this are deleted (the worker's `retention.maxAge`). */
  retentionMs: number;
  log?: (line: string) => void;
}

/** A quantity at the end of warm-up, at the end, its largest value after warm-up, and end / warm - 1. */
export interface Series {
  warm: number;
  end: number;
  max: number;
  growth: number;
}

export interface SoakReport {
  store: StoreKind;
  jobs: number;
  failed: number;
  durationMs: number;
  jobsPerSecond: number;
  serverRss: Series;
  workerRss: Series;
  /** Heap in use after a full collection: what a leak makes grow. */
  serverHeap: Series;
  workerHeap: Series;
  databaseBytes: Series;
  /** Jobs still stored when the run ended (the rest were deleted by retention). */
  rowsAtEnd: number;
}

const BATCH = 500;
const SENDERS = 2;
const MAX_BACKLOG = 5_000;
/** Warm-up is the first quarter of the jobs. */
const WARM_UP = 0.25;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const {
    store,
    schema,
    file,
    env: storeEnv,
    close,
  } = await openRunStore(options.store, options.dir, 'soak');
  const size = (name: string) => (fs.existsSync(name) ? fs.statSync(name).size : 0);
  const databaseBytes = async () => {
    if (!schema) return size(file) + size(`${file}-wal`);
    const sql = `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`;
    return Number((await adminQuery<{ bytes: string }>(sql, [schema]))[0]!.bytes);
  };
  const env = {
    ...storeEnv,
    OFFLOAD_CHAOS_RETENTION_MS: String(options.retentionMs),
    OFFLOAD_CHAOS_CONCURRENCY: '50',
    OFFLOAD_CHAOS_HEAP_MS: '1000',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim(),
  };

  const server = await startFixture('chaos-server.ts', env, /^listening (\S+) (\S+)$/m);
  const [, url, token] = /^listening (\S+) (\S+)$/.exec(server.line)!;
  const worker = await startFixture('chaos-worker.ts', env);
  const heap = { server: 0, worker: 0 };
  for (const [name, fixture] of [
    ['server', server],
    ['worker', worker],
  ] as const) {
    fixture.child.stdout!.on('data', (chunk: Buffer) => {
      const last = /heap (\d+)\s*$/.exec(chunk.toString());
      if (last) heap[name] = Number(last[1]);
    });
  }
  const samples: Array<{
    done: number;
    server: number;
    worker: number;
    bytes: number;
    serverHeap: number;
    workerHeap: number;
  }> = [];
  let acked = 0;
  let done = 0;
  let failed = 0;
  let sampling = true;

  const progress = async () => {
    const counts = await store.jobCount({});
    failed = counts.failed;
    done = acked - counts.queued - counts.running - counts.scheduled;
  };
  const sampler = (async () => {
    let said = 0;
    while (sampling) {
      await progress();
      samples.push({
        done: done / options.jobs,
        server: rssOf(server.child.pid!),
        worker: rssOf(worker.child.pid!),
        bytes: await databaseBytes(),
        serverHeap: heap.server,
        workerHeap: heap.worker,
      });
      if (Date.now() - said > 10_000) {
        said = Date.now();
        const last = samples.at(-1)!;
        const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
        log(
          `${options.store}: ${done} done, server ${mb(last.server)} (heap ${mb(last.serverHeap)}), worker ${mb(last.worker)} (heap ${mb(last.workerHeap)}), database ${mb(last.bytes)}`,
        );
      }
      await sleep(250);
    }
  })();

  let next = 0;
  const send = async () => {
    for (let b = next++; b * BATCH < options.jobs; b = next++) {
      while (acked - done > MAX_BACKLOG) await sleep(20);
      const jobs = Array.from({ length: Math.min(BATCH, options.jobs - b * BATCH) }, (_, k) => ({
        task: 'noop',
        payload: { n: b * BATCH + k },
      }));
      const response = await fetch(`${url}/v1/jobs/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jobs }),
      });
      if (response.status !== 202)
        throw new Error(`soak: batch ${b} answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      acked += jobs.length;
    }
  };

  try {
    await Promise.all(Array.from({ length: SENDERS }, send));
    const deadline = Date.now() + 300_000;
    while (done < options.jobs) {
      if (Date.now() > deadline)
        throw new Error(`soak: ${options.jobs - done} jobs did not finish`);
      await sleep(100);
    }
  } finally {
    sampling = false;
    await sampler;
    await stopFixture(worker);
    await stopFixture(server);
  }
  const durationMs = Date.now() - started;
  const rowsAtEnd = Object.values(await store.jobCount({})).reduce((a, b) => a + b, 0);
  await close();

  const series = (pick: (s: (typeof samples)[number]) => number): Series => {
    const median = (values: number[]) =>
      values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const warmWindow = samples
      .filter((s) => s.done >= WARM_UP - 0.05 && s.done <= WARM_UP + 0.05)
      .map(pick);
    const after = samples.filter((s) => s.done >= WARM_UP).map(pick);
    const endWindow = samples.filter((s) => s.done >= 0.9).map(pick);
    const warm = median(warmWindow.length ? warmWindow : after.slice(0, 3));
    const end = median(endWindow.length ? endWindow : after.slice(-3));
    return { warm, end, max: Math.max(...after), growth: warm ? end / warm - 1 : 0 };
  };
  return {
    store: options.store,
    jobs: options.jobs,
    failed,
    durationMs,
    jobsPerSecond: Math.round(options.jobs / (durationMs / 1000)),
    serverRss: series((s) => s.server),
    workerRss: series((s) => s.worker),
    serverHeap: series((s) => s.serverHeap),
    workerHeap: series((s) => s.workerHeap),
    databaseBytes: series((s) => s.bytes),
    rowsAtEnd,
  };
}
