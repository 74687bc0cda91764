/**
 * `npm run bench:wait`: what waiting for a job's result from the library costs (issue 21), on
 * SQLite and PostgreSQL side by side, with BullMQ's `job.waitUntilFinished` on Redis in the same
 * run: (a) 10 000 `queue.wait` calls at once, their heap and CPU per waiting call; (b) the
 * `queue.run` round trip (enqueue, run by an idle worker, result back) p50/p99. Writes its section
 * of bench/RESULTS.md (wait markers) and its entry of bench/results.json.
 *
 *   flock /tmp/offload-bench.lock npm run bench:wait
 *
 * BENCH_QUICK=1: small sizes, printed only. PostgreSQL: OFFLOAD_BENCH_PG_URL, Redis:
 * OFFLOAD_BENCH_REDIS_URL (see bench/flow-stores.ts).
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Queue as BullQueue, QueueEvents, Worker as BullWorker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createQueue, createWorker, defineTask } from '../src/index.ts';
import { quantile } from '../src/bench/stats.ts';
import { JobWaits } from '../src/queue/job-waits.ts';
import { PG_URL, REDIS_URL, STORE_KINDS, type StoreKind } from './flow-stores.ts';
import { serverVersions } from './pg-peers.ts';
import { machine, packageVersion, writeResultsJson, writeSection } from './sections.ts';

const QUICK = process.env['BENCH_QUICK'] === '1';
const SIZES = QUICK
  ? { waits: 1_000, idleMs: 300, trips: 200, warmup: 20 }
  : { waits: 10_000, idleMs: 2_000, trips: 2_000, warmup: 200 };

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const log = (text: string) => process.stderr.write(`bench:wait ${text}\n`);

const echo = defineTask({ name: 'echo', queue: 'wait', run: (payload: { n: number }) => payload });

/** Heap in use after two full collections, in bytes. */
function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** CPU time (user + system) of this process spent in `ms` of wall time, in ms. */
async function cpuDuring(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await sleep(ms);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

interface ManyWaits {
  store: string;
  waits: number;
  heapPerWaitBytes: number;
  registerCpuUs: number;
  idleCpuMsPerSecond: { without: number; with: number };
  resolveMs: number;
  resolveCpuUsPerWait: number;
}

/**
 * (a) `waits` queued jobs and no worker yet, one `queue.wait` each: heap and CPU to register, CPU
 * per second while they all wait (against the same store with none waiting), then a worker runs
 * them and the time until every wait resolved.
 */
async function manyWaits(kind: StoreKind): Promise<ManyWaits> {
  const opened = await kind.open();
  const store = opened.store;
  try {
    const queue = createQueue({ store, tasks: [echo] });
    const jobs = [];
    for (let from = 0; from < SIZES.waits; from += 1000)
      jobs.push(
        ...(await queue.enqueueMany(
          Array.from({ length: Math.min(1000, SIZES.waits - from) }, (_, i) => ({
            task: echo,
            payload: { n: from + i },
          })),
        )),
      );
    await opened.settle();
    await sleep(500);
    const idleWithout = (await cpuDuring(SIZES.idleMs)) / (SIZES.idleMs / 1000);
    const heapBefore = heap();
    const cpu = process.cpuUsage();
    const waits = jobs.map((job) => queue.wait(job));
    const registered = process.cpuUsage(cpu);
    // Each wait reads its job once when it starts; what follows is the waiting alone.
    while (JobWaits.of(store).reading > 0) await sleep(10);
    await sleep(100);
    const heapWith = heap();
    if (JobWaits.of(store).size !== SIZES.waits) throw new Error('not every wait is registered');
    const idleWith = (await cpuDuring(SIZES.idleMs)) / (SIZES.idleMs / 1000);
    const worker = createWorker({
      store,
      tasks: [echo],
      concurrency: 50,
      blockThreshold: 0,
      logger: pino({ level: 'silent' }),
    });
    const started = performance.now();
    const resolveCpu = process.cpuUsage();
    await worker.start();
    await Promise.all(waits);
    const resolveMs = performance.now() - started;
    const resolvedCpu = process.cpuUsage(resolveCpu);
    await worker.stop();
    return {
      store: kind.name,
      waits: SIZES.waits,
      heapPerWaitBytes: (heapWith - heapBefore) / SIZES.waits,
      registerCpuUs: (registered.user + registered.system) / SIZES.waits,
      idleCpuMsPerSecond: { without: idleWithout, with: idleWith },
      resolveMs,
      resolveCpuUsPerWait: (resolvedCpu.user + resolvedCpu.system) / SIZES.waits,
    };
  } finally {
    await opened.close();
  }
}

interface RoundTrips {
  system: string;
  samples: number;
  p50: number;
  p99: number;
  mean: number;
}

function tripStats(system: string, times: number[]): RoundTrips {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    system,
    samples: times.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
  };
}

/** (b) `queue.run` one after another with an idle worker in this process, after a warm-up. */
async function offloadTrips(kind: StoreKind): Promise<RoundTrips> {
  const opened = await kind.open();
  const store = opened.store;
  const worker = createWorker({
    store,
    tasks: [echo],
    blockThreshold: 0,
    logger: pino({ level: 'silent' }),
  });
  try {
    await worker.start();
    const queue = createQueue({ store, tasks: [echo] });
    const times: number[] = [];
    for (let n = 0; n < SIZES.warmup + SIZES.trips; n++) {
      const t = performance.now();
      await queue.run(echo, { n });
      if (n >= SIZES.warmup) times.push(performance.now() - t);
    }
    return tripStats(`offload ${kind.name}`, times);
  } finally {
    await worker.stop();
    await opened.close();
  }
}

/** The same round trip in BullMQ: `queue.add` then `job.waitUntilFinished(queueEvents)`. */
async function bullTrips(): Promise<RoundTrips> {
  const connections = [0, 1].map(() => new Redis(REDIS_URL, { maxRetriesPerRequest: null }));
  const prefix = 'offload-bench-wait';
  const queue = new BullQueue('wait', { connection: connections[0]!, prefix });
  const events = new QueueEvents('wait', { connection: { url: REDIS_URL }, prefix });
  const worker = new BullWorker('wait', async (job) => job.data as unknown, {
    connection: connections[1]!,
    prefix,
  });
  try {
    await queue.obliterate({ force: true });
    await events.waitUntilReady();
    await worker.waitUntilReady();
    const opts = { removeOnComplete: 1000, removeOnFail: 1000 };
    const times: number[] = [];
    for (let n = 0; n < SIZES.warmup + SIZES.trips; n++) {
      const t = performance.now();
      const job = await queue.add('echo', { n }, opts);
      await job.waitUntilFinished(events);
      if (n >= SIZES.warmup) times.push(performance.now() - t);
    }
    return tripStats('BullMQ (Redis)', times);
  } finally {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    for (const connection of connections) connection.disconnect();
  }
}

async function redisVersion(): Promise<string> {
  const redis = new Redis(REDIS_URL);
  try {
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } finally {
    redis.disconnect();
  }
}

const loadBefore = os.loadavg()[0]!;
const many: ManyWaits[] = [];
for (const kind of STORE_KINDS) {
  many.push(await manyWaits(kind));
  log(`many waits ${kind.name}: ${JSON.stringify(many.at(-1))}`);
}
const trips: RoundTrips[] = [];
for (const kind of STORE_KINDS) {
  trips.push(await offloadTrips(kind));
  log(`round trips ${kind.name}: ${JSON.stringify(trips.at(-1))}`);
}
trips.push(await bullTrips());
log(`round trips BullMQ: ${JSON.stringify(trips.at(-1))}`);
const loadAfter = os.loadavg()[0]!;

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => x.toFixed(2);
const host = machine();
const markdown = [
  '<!-- wait:start -->',
  '## Waiting for results (`npm run bench:wait`)',
  '',
  `${new Date().toISOString().slice(0, 10)} · ${host.cpus} × ${host.cpuModel} · Node ${host.node} · ${host.platform} ${host.release} · load (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after · better-sqlite3 ${packageVersion('better-sqlite3')} · pg ${packageVersion('pg')} · ${await serverVersions(PG_URL)} · bullmq ${packageVersion('bullmq')} · Redis ${await redisVersion()}`,
  'Each measurement on a fresh store (a new SQLite file with WAL; a new PostgreSQL schema) with its defaults.',
  '',
  `**${n(SIZES.waits)} waits at once**: ${n(SIZES.waits)} queued jobs and no worker yet, one \`queue.wait(job)\` each, all pending together: heap after a full GC once each had read its job, and CPU to make the calls (the reads not included); then this process's CPU per second over ${SIZES.idleMs / 1000} s with none and with all of them waiting (the store's own watch runs in both); then a worker (concurrency 50) starts and runs the jobs, and the time and CPU until every wait resolved (running the jobs included). All waits share one set of store listeners (JobWaits); none polls.`,
  '',
  '| store | waits | heap per wait | CPU per wait call | idle CPU, none waiting | idle CPU, all waiting | all resolved in | CPU per resolved wait (jobs run included) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...many.map(
    (m) =>
      `| ${m.store} | ${n(m.waits)} | ${n(m.heapPerWaitBytes)} B | ${m.registerCpuUs.toFixed(1)} µs | ${m.idleCpuMsPerSecond.without.toFixed(1)} ms/s | ${m.idleCpuMsPerSecond.with.toFixed(1)} ms/s | ${n(m.resolveMs)} ms | ${m.resolveCpuUsPerWait.toFixed(0)} µs |`,
  ),
  '',
  `**Round trip**: enqueue, run by an idle worker in the same process (a no-op task that returns its payload), result back: \`queue.run(task, payload)\` for offload, \`queue.add\` then \`job.waitUntilFinished(queueEvents)\` for BullMQ (worker concurrency 1, QueueEvents on its own connection). ${n(SIZES.trips)} one after another after ${n(SIZES.warmup)} unmeasured.`,
  '',
  '| system | round trips | p50 ms | p99 ms | mean ms |',
  '|---|---:|---:|---:|---:|',
  ...trips.map(
    (t) => `| ${t.system} | ${n(t.samples)} | ${ms(t.p50)} | ${ms(t.p99)} | ${ms(t.mean)} |`,
  ),
  '<!-- wait:end -->',
].join('\n');

console.log(markdown);
if (!QUICK) {
  writeSection('wait', markdown);
  writeResultsJson('wait', { sizes: SIZES, many, trips });
}
// BullMQ and the stores are closed; an ioredis or pg timer may still be pending.
process.exit(0);
