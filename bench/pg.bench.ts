/**
 * offload on PostgreSQL vs Graphile Worker (defaults, and its fastest documented settings), pg-boss
 * and BullMQ (on Redis), in one run, with no-op jobs: single and bulk enqueue throughput, processing
 * throughput (until every completion is committed), and enqueue-to-start latency with an idle worker.
 *
 *   flock /tmp/offload-bench.lock npm run bench:pg
 *
 * PostgreSQL: OFFLOAD_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test), each system
 * in its own schema, dropped afterwards. Redis: OFFLOAD_BENCH_REDIS_URL (default 127.0.0.1:6379).
 * Results go to bench/RESULTS.md between the pg markers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { peers, serverVersions, type Peer } from './pg-peers.ts';
import { packageVersion } from './sections.ts';

const PG_URL = process.env['OFFLOAD_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['OFFLOAD_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface Measured {
  peer: string;
  settings: string;
  single: number;
  bulk: number;
  processing: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Extra rounds of processing and latency for the systems the targets compare, run alternately. */
const EXTRA_ROUNDS = 2;
const COMPARED = ['offload', 'graphile-worker (fastest)', 'bullmq'];

/** Every processing rate and latency sample of one system, over all its rounds. */
interface Rounds {
  processing: number[];
  latencies: number[];
}

async function measure(peer: Peer, rounds: Rounds): Promise<Measured> {
  const sizes = peer.sizes;
  await peer.setup();
  try {
    let t = performance.now();
    for (let i = 0; i < sizes.single; i++) await peer.enqueue(i);
    const single = sizes.single / ((performance.now() - t) / 1000);
    await peer.reset();

    t = performance.now();
    for (let done = 0; done < sizes.bulk; done += 1000)
      await peer.enqueueBulk(Math.min(1000, sizes.bulk - done));
    const bulk = sizes.bulk / ((performance.now() - t) / 1000);
    await peer.reset();

    await processAndTime(peer, rounds);
    return { peer: peer.name, settings: peer.settings, single, bulk, ...summary(rounds) };
  } finally {
    await peer.teardown();
  }
}

/** One more round of processing and latency on a fresh setup. */
async function extraRound(peer: Peer, rounds: Rounds): Promise<void> {
  await peer.setup();
  try {
    await processAndTime(peer, rounds);
  } finally {
    await peer.teardown();
  }
}

/** Processing throughput of a full queue, then enqueue-to-start latency with the worker idle. */
async function processAndTime(peer: Peer, rounds: Rounds): Promise<void> {
  const sizes = peer.sizes;
  for (let done = 0; done < sizes.processing; done += 1000)
    await peer.enqueueBulk(Math.min(1000, sizes.processing - done));
  const t = performance.now();
  await peer.startWorker();
  await peer.waitProcessed(sizes.processing);
  rounds.processing.push(sizes.processing / ((performance.now() - t) / 1000));
  for (let i = 0; i < sizes.latency; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    rounds.latencies.push(await peer.latencyOnce());
  }
}

/** Median processing rate over the rounds; latency percentiles over every sample of every round. */
function summary(rounds: Rounds): Pick<Measured, 'processing' | 'p50' | 'p95' | 'p99'> {
  const sorted = [...rounds.latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const rates = [...rounds.processing].sort((a, b) => a - b);
  return {
    processing: rates[Math.floor(rates.length / 2)]!,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
  };
}

function table(results: Measured[]): string {
  const base = results.find((r) => r.peer.startsWith('offload'))!;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const ms = (x: number) => x.toFixed(2);
  const lines = [
    '| system | single enqueue/s | bulk enqueue/s | processed/s | latency p50 ms | p95 ms | p99 ms | offload processing ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.peer} | ${n(r.single)} | ${n(r.bulk)} | ${n(r.processing)} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${(base.processing / r.processing).toFixed(2)}× |`,
    ),
  ];
  return lines.join('\n');
}

function versions(): string {
  return ['graphile-worker', 'pg-boss', 'bullmq', 'ioredis', 'pg']
    .map((name) => `${name} ${packageVersion(name)}`)
    .join(', ');
}

/**
 * The floor under the latency of a queue whose jobs become visible only once their insert is on
 * disk (Graphile Worker's, pg-boss's, offload's fallback): p50/p99 of a one-row INSERT committed
 * durably, 300 times 5 ms apart.
 */
async function commitFloor(): Promise<{ p50: number; p99: number }> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    // A regular table: a temporary one writes no WAL, so its commits wait for no flush.
    await client.query('DROP TABLE IF EXISTS public.offload_bench_floor');
    await client.query('CREATE TABLE public.offload_bench_floor (n int)');
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const t = performance.now();
      await client.query('INSERT INTO public.offload_bench_floor VALUES (1)');
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { p50: times[150]!, p99: times[297]! };
  } finally {
    await client.query('DROP TABLE IF EXISTS public.offload_bench_floor').catch(() => undefined);
    await client.end();
  }
}

/**
 * The shortest path any LISTEN/NOTIFY queue with leases has from an enqueue to a start: a one-row
 * INSERT that notifies, committed without waiting for the disk; the notification heard on a second
 * connection; a one-row UPDATE (the claim) on a third, also not waiting for the disk. p50/p99 of
 * 300 of them, 5 ms apart. offload's enqueue-to-start adds its own work to exactly this path.
 */
async function announceFloor(): Promise<{ p50: number; p99: number }> {
  const [producer, listener, claimer] = [0, 1, 2].map(
    () => new pg.Client({ connectionString: PG_URL }),
  );
  for (const client of [producer!, listener!, claimer!]) await client.connect();
  let heard: ((id: string) => void) | undefined;
  listener!.on('notification', (message) => heard?.(message.payload ?? ''));
  try {
    await producer!.query('DROP TABLE IF EXISTS public.offload_bench_announce');
    await producer!.query(
      "CREATE TABLE public.offload_bench_announce (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'queued')",
    );
    for (const client of [producer!, claimer!]) await client.query('SET synchronous_commit = off');
    await listener!.query('LISTEN offload_bench_announce');
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const t = performance.now();
      const id = new Promise<string>((resolve) => (heard = resolve));
      await producer!.query(
        "WITH i AS (INSERT INTO public.offload_bench_announce DEFAULT VALUES RETURNING id) SELECT pg_notify('offload_bench_announce', id::text) FROM i",
      );
      await claimer!.query(
        "UPDATE public.offload_bench_announce SET state = 'running' WHERE id = $1",
        [await id],
      );
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { p50: times[150]!, p99: times[297]! };
  } finally {
    await producer!
      .query('DROP TABLE IF EXISTS public.offload_bench_announce')
      .catch(() => undefined);
    for (const client of [producer!, listener!, claimer!]) await client.end();
  }
}

function writeResults(markdown: string): void {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');
  const start = '<!-- pg:start -->';
  const end = '<!-- pg:end -->';
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n';
  const block = `${start}\n${markdown}\n${end}`;
  const next =
    current.includes(start) && current.includes(end)
      ? current.slice(0, current.indexOf(start)) +
        block +
        current.slice(current.indexOf(end) + end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, next);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const loadBefore = os.loadavg()[0]!.toFixed(2);
  const results: Measured[] = [];
  const floor = await commitFloor();
  const announce = await announceFloor();
  const all = peers(PG_URL, REDIS_URL).filter(
    (peer) => !only.length || only.some((name) => peer.name.includes(name)),
  );
  const rounds = new Map(
    all.map((peer) => [peer.name, { processing: [], latencies: [] } as Rounds]),
  );
  for (const peer of all) {
    process.stderr.write(`bench:pg ${peer.name} (${peer.settings})… `);
    const result = await measure(peer, rounds.get(peer.name)!);
    process.stderr.write(
      `${Math.round(result.processing)} jobs/s, p50 ${result.p50.toFixed(2)} ms\n`,
    );
    results.push(result);
  }
  const compared = all.filter((peer) => COMPARED.includes(peer.name));
  for (let round = 0; round < EXTRA_ROUNDS; round++) {
    for (const peer of compared) {
      process.stderr.write(`bench:pg round ${round + 2}: ${peer.name}… `);
      await extraRound(peer, rounds.get(peer.name)!);
      process.stderr.write(`${Math.round(rounds.get(peer.name)!.processing.at(-1)!)} jobs/s\n`);
    }
  }
  for (const result of results) Object.assign(result, summary(rounds.get(result.peer)!));
  const perRound = compared
    .map(
      (peer) =>
        `${peer.name} ${rounds
          .get(peer.name)!
          .processing.map((rate) => Math.round(rate).toLocaleString('en-US'))
          .join(' / ')}`,
    )
    .join('; ');
  const table_ = table(results);
  console.log(table_);
  if (only.length) return;
  const offload = results[0]!;
  const get = (name: string) => results.find((r) => r.peer === name)!;
  const fast = get('graphile-worker (fastest)');
  const bull = get('bullmq');
  const markdown = [
    '## PostgreSQL queues (`npm run bench:pg`)',
    '',
    `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${await serverVersions(PG_URL)}, Redis on 127.0.0.1.`,
    `Peers: ${versions()}. No-op jobs; producer and worker in one process, on separate connections.`,
    'Processing counts until every completion is committed; latency is enqueue-to-start with an idle worker (5 ms between jobs).',
    `offload, Graphile Worker (fastest) and BullMQ are measured in ${EXTRA_ROUNDS + 1} rounds, taken in turn, each on a fresh setup: processed/s is the median of the rounds and the latency percentiles are over all their samples (30 000 jobs and 300 latency samples a round). Rounds (processed/s): ${perRound}.`,
    `Load average (1 min) ${loadBefore} before the run and ${os.loadavg()[0]!.toFixed(2)} after: on a shared 2-CPU machine, numbers of one system vary up to 2× between runs; compare rows of one run.`,
    '',
    table_,
    '',
    'Settings:',
    ...results.map((r) => `- **${r.peer}**: ${r.settings}`),
    '',
    'Targets (offload with its defaults, same run):',
    `- processing ≥ Graphile Worker fastest: ${(offload.processing / fast.processing).toFixed(2)}× (${offload.processing >= fast.processing ? 'met' : 'NOT met'})`,
    `- processing ≥ BullMQ: ${(offload.processing / bull.processing).toFixed(2)}× (${offload.processing >= bull.processing ? 'met' : 'NOT met'})`,
    `- latency p50 ≤ Graphile Worker's: ${offload.p50.toFixed(2)} ms vs ${Math.min(fast.p50, get('graphile-worker (defaults)').p50).toFixed(2)} ms (${offload.p50 <= Math.min(fast.p50, get('graphile-worker (defaults)').p50) ? 'met' : 'NOT met'})`,
    `- latency p99 < 5 ms: ${offload.p99.toFixed(2)} ms (${offload.p99 < 5 ? 'met' : 'NOT met'}); the floors at the start of this run: a bare one-row INSERT with a durable commit, p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms; the shortest enqueue-to-start path of any LISTEN/NOTIFY queue with leases (an INSERT that notifies, the notification heard, a one-row claim UPDATE, no disk waits), p50 ${announce.p50.toFixed(2)} ms, p99 ${announce.p99.toFixed(2)} ms`,
  ].join('\n');
  writeResults(markdown);
}

await main();
// Peers leave timers and sockets behind (pg-boss, ioredis); the run is over.
process.exit(0);
