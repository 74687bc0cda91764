/**
 * `npm run bench:queue`: no-op jobs through offload on SQLite and through plainjob, side by side in
 * one run, each on a fresh file with WAL and synchronous=NORMAL (a process crash loses nothing; a
 * power cut may lose the last commits). Medians of 3 runs go to bench/RESULTS.md (queue markers).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker } from 'plainjob';
import { createQueue, createSqliteStore, createWorker, defineTask } from '../src/index.ts';
import { writeResultsSection } from './results-section.ts';

const BULK = 50_000;
const SINGLE = 5_000;
const PROCESS = 50_000;
const LATENCY = 300;
const RUNS = 3;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-queue-'));
let fileNo = 0;
const freshFile = () => path.join(dir, `q${fileNo++}.db`);
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
const median = (values: number[]) => pct(values, 50);
const silent = { error() {}, warn() {}, info() {}, debug() {} };
const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

interface Result { bulk: number; single: number; processed: number; p50: number; p99: number }

async function offloadRun(): Promise<Result> {
  const noop = defineTask({ name: 'noop', run: async () => null });
  const store = createSqliteStore({ path: freshFile() });
  const queue = createQueue({ store, tasks: [noop] });
  let t = performance.now();
  await queue.enqueueMany(Array.from({ length: BULK }, (_, n) => ({ task: noop, payload: { n } })));
  const bulk = rate(BULK, performance.now() - t);
  t = performance.now();
  for (let n = 0; n < SINGLE; n++) await queue.enqueue(noop, { n });
  const single = rate(SINGLE, performance.now() - t);
  await queue.enqueueMany(Array.from({ length: PROCESS - BULK - SINGLE }, (_, n) => ({ task: noop, payload: { n } })));
  const worker = createWorker({ store, tasks: [noop], blockThreshold: 0 });
  let done = 0;
  const all = new Promise<void>((resolve) => worker.on('job:end', () => ++done === PROCESS && resolve()));
  t = performance.now();
  await worker.start();
  await all;
  const processed = rate(PROCESS, performance.now() - t);
  const latencies: number[] = [];
  let sentAt = 0;
  worker.on('job:start', () => latencies.push(performance.now() - sentAt));
  for (let n = 0; n < LATENCY; n++) {
    sentAt = performance.now();
    await queue.enqueue(noop, { n });
    while (latencies.length <= n) await new Promise((resolve) => setImmediate(resolve));
    await tick();
  }
  await worker.stop();
  await store.close();
  return { bulk, single, processed, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

async function plainjobRun(): Promise<Result> {
  const connection = better(new Database(freshFile()));
  const queue = defineQueue({ connection, logger: silent });
  let t = performance.now();
  queue.addMany('noop', Array.from({ length: BULK }, (_, n) => ({ n })));
  const bulk = rate(BULK, performance.now() - t);
  t = performance.now();
  for (let n = 0; n < SINGLE; n++) queue.add('noop', { n });
  const single = rate(SINGLE, performance.now() - t);
  queue.addMany('noop', Array.from({ length: PROCESS - BULK - SINGLE }, (_, n) => ({ n })));
  let done = 0;
  let onJob = () => {};
  const all = new Promise<void>((resolve) => (onJob = () => ++done === PROCESS && resolve()));
  const worker = defineWorker('noop', () => onJob(), { queue, pollIntervall: 1, logger: silent });
  t = performance.now();
  void worker.start();
  await all;
  const processed = rate(PROCESS, performance.now() - t);
  const latencies: number[] = [];
  let sentAt = 0;
  onJob = () => void latencies.push(performance.now() - sentAt);
  for (let n = 0; n < LATENCY; n++) {
    sentAt = performance.now();
    queue.add('noop', { n });
    while (latencies.length <= n) await new Promise((resolve) => setTimeout(resolve, 0));
    await tick();
  }
  await worker.stop();
  queue.close();
  return { bulk, single, processed, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

function summarize(runs: Result[]): Result {
  const keys: Array<keyof Result> = ['bulk', 'single', 'processed', 'p50', 'p99'];
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])) as unknown as Result;
}

const require = createRequire(import.meta.url);
const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
const results: Record<string, Result[]> = { offload: [], plainjob: [] };
for (let run = 0; run < RUNS; run++) {
  results.offload!.push(await offloadRun());
  results.plainjob!.push(await plainjobRun());
  process.stderr.write(`bench:queue run ${run + 1}/${RUNS} done\n`);
}
const o = summarize(results.offload!);
const p = summarize(results.plainjob!);
const ms = (v: number) => v.toFixed(2);
const row = (name: string, r: Result) => `| ${name} | ${r.bulk} | ${r.single} | ${r.processed} | ${ms(r.p50)} | ${ms(r.p99)} |`;
const markdown = [
  '## SQLite queue (`npm run bench:queue`)',
  '',
  `${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · load before ${os.loadavg()[0]!.toFixed(2)} · better-sqlite3 ${version('better-sqlite3')} · plainjob ${version('plainjob')}`,
  'Both: WAL, synchronous=NORMAL (a process crash loses nothing; a power cut may lose the last commits). offload with its defaults (10 jobs per queue at once); every state change committed. Medians of 3 runs; latency is enqueue-to-start with an idle worker in the same process.',
  '',
  '| system | bulk enqueue/s | single enqueue/s | processed/s | latency p50 ms | p99 ms |',
  '|---|---:|---:|---:|---:|---:|',
  row('offload', o),
  row('plainjob', p),
  '',
  `Ratios offload/plainjob: bulk ${(o.bulk / p.bulk).toFixed(2)}×, single ${(o.single / p.single).toFixed(2)}×, processing ${(o.processed / p.processed).toFixed(2)}× (target ≥ 2×).`,
].join('\n');
writeResultsSection('queue', markdown);
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${markdown}\n`);
