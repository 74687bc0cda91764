/**
 * Pool benchmark: offload's thread and process pools against Piscina, Tinypool and raw
 * worker_threads / fork ping-pongs, 2 workers each. Writes its section of bench/RESULTS.md.
 * Run with `flock /tmp/offload-bench.lock npm run bench:pool`.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import { createPool } from '../src/pool/pool.ts';

const RUNS = 5;
/** One-at-a-time and CPU-bound runs alternate between systems; more of them, as these ratios drift most. */
const ALTERNATING_RUNS = 9;
const BURST = 100_000;
const SEQUENTIAL = 5_000;
const CPU_TASKS = 10_000;
const here = (file: string) => new URL(file, import.meta.url);
const PEER = here('./fixtures/peer-tasks.mjs').href;

interface Runner {
  run(name: 'noop' | 'sha', payload: unknown): Promise<unknown>;
  close(): Promise<void>;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function burst(runner: Runner, name: 'noop' | 'sha', count: number): Promise<number> {
  const start = performance.now();
  const all: Array<Promise<unknown>> = new Array(count);
  for (let i = 0; i < count; i++) all[i] = runner.run(name, i);
  await Promise.all(all);
  return count / ((performance.now() - start) / 1000);
}

async function oneAtATime(runner: Runner, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await runner.run('noop', i);
  return ((performance.now() - start) / count) * 1000;
}

/** CPU time this process (all its threads) spent in a measurement, per task, and the cores that makes. */
interface CpuShare {
  cpuUsPerTask: number;
  cores: number;
}
const cpuShares: Record<string, CpuShare[]> = {};

/** Wraps a burst so its CPU time is recorded under `key`: where the time of the CPU-bound runs goes. */
function withCpu(key: string, count: number, what: (runner: Runner) => Promise<number>) {
  return async (runner: Runner): Promise<number> => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const value = await what(runner);
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    (cpuShares[key] ??= []).push({
      cpuUsPerTask: (cpuMs * 1000) / count,
      cores: cpuMs / (performance.now() - start),
    });
    return value;
  };
}

const cpuShare = (key: string): CpuShare => ({
  cpuUsPerTask: median(cpuShares[key]!.map((share) => share.cpuUsPerTask)),
  cores: median(cpuShares[key]!.map((share) => share.cores)),
});

/** Median over RUNS of a measurement, after one warm-up. */
async function measure(
  label: string,
  make: () => Promise<Runner>,
  what: (runner: Runner) => Promise<number>,
): Promise<number> {
  const runner = await make();
  await what(runner);
  const values: number[] = [];
  for (let i = 0; i < RUNS; i++) values.push(await what(runner));
  await runner.close();
  const value = median(values);
  console.log(`${label.padEnd(48)} ${value.toFixed(1)}`);
  return value;
}

/**
 * Medians over ALTERNATING_RUNS of one measurement on several systems whose runs alternate (A B C A B C …), so
 * drift in the machine's state (other load, CPU idle states) falls on all of them alike.
 */
async function measureInterleaved<
  const S extends ReadonlyArray<{
    label: string;
    make: () => Promise<Runner>;
    what?: (runner: Runner) => Promise<number>;
  }>,
>(systems: S, what: (runner: Runner) => Promise<number>): Promise<{ [K in keyof S]: number }> {
  const runners = await Promise.all(systems.map((system) => system.make()));
  const values: number[][] = systems.map(() => []);
  const measureOne = (n: number) => (systems[n]!.what ?? what)(runners[n]!);
  for (const n of runners.keys()) await measureOne(n);
  for (let i = 0; i < ALTERNATING_RUNS; i++)
    for (const n of runners.keys()) values[n]!.push(await measureOne(n));
  await Promise.all(runners.map((runner) => runner.close()));
  return systems.map((system, n) => {
    const value = median(values[n]!);
    console.log(`${system.label.padEnd(48)} ${value.toFixed(1)}`);
    return value;
  }) as { [K in keyof S]: number };
}

const offload = (mode: 'thread' | 'process') => async (): Promise<Runner> => {
  const pool = createPool({
    mode,
    module: new URL('./fixtures/offload-tasks.ts', import.meta.url),
    minWorkers: 2,
    maxWorkers: 2,
  });
  await pool.ready();
  await Promise.all([pool.run('noop', 0), pool.run('noop', 1)]);
  return { run: (name, payload) => pool.run(name, payload), close: () => pool.close() };
};

const piscina = (concurrentTasksPerWorker?: number) => async (): Promise<Runner> => {
  const pool = new Piscina({
    filename: PEER,
    minThreads: 2,
    maxThreads: 2,
    ...(concurrentTasksPerWorker ? { concurrentTasksPerWorker } : {}),
  });
  return {
    run: (name, payload) => pool.run(payload, name === 'noop' ? {} : { name }),
    close: () => pool.destroy(),
  };
};

const tinypool = (runtime: 'worker_threads' | 'child_process') => async (): Promise<Runner> => {
  const pool = new Tinypool({
    filename: PEER,
    minThreads: 2,
    maxThreads: 2,
    runtime,
    isolateWorkers: false,
  });
  return {
    run: (name, payload) => pool.run(payload, name === 'noop' ? {} : { name }),
    close: () => pool.destroy(),
  };
};

const inline = async (): Promise<Runner> => {
  const data = Buffer.alloc(64 * 1024, 7);
  return {
    run: async (name, payload) =>
      name === 'sha' ? createHash('sha256').update(data).digest('hex') : payload,
    close: async () => {},
  };
};

/**
 * The ceiling two threads can reach on this machine: each bare thread hashes half the tasks in one
 * loop, with no pool, no promise and no message per task (one message each way per run).
 */
const bareThreads = async (): Promise<Runner> => {
  const threads = [
    new Worker(here('./fixtures/hash-loop-thread.mjs')),
    new Worker(here('./fixtures/hash-loop-thread.mjs')),
  ];
  const loop = (thread: Worker, n: number) =>
    new Promise((resolve) => (thread.once('message', resolve), thread.postMessage(n)));
  let held = 0;
  let batch: Promise<unknown> | undefined;
  return {
    // The burst calls run() CPU_TASKS times in one go: start both loops at the first call, settle every call when both end.
    run: () => {
      if (held++ === 0)
        batch = Promise.all(threads.map((thread) => loop(thread, CPU_TASKS / 2))).finally(
          () => (held = 0),
        );
      return batch!;
    },
    close: async () => void (await Promise.all(threads.map((thread) => thread.terminate()))),
  };
};

/** Raw ping-pong: one message out, wait for the answer, repeat. */
function pingPong(kind: 'thread' | 'process') {
  return async (): Promise<Runner> => {
    let answer: (value: unknown) => void = () => {};
    if (kind === 'thread') {
      const worker = new Worker(here('./fixtures/echo-thread.mjs'));
      worker.on('message', (message) => answer(message));
      return {
        run: (_, payload) =>
          new Promise((resolve) => ((answer = resolve), worker.postMessage(payload))),
        close: async () => void (await worker.terminate()),
      };
    }
    const child = fork(here('./fixtures/echo-process.mjs'));
    child.on('message', (message) => answer(message));
    return {
      run: (_, payload) =>
        new Promise((resolve) => ((answer = resolve), child.send(payload as number))),
      close: async () => void child.kill(),
    };
  };
}

async function main(): Promise<void> {
  const r: Record<string, number> = {};
  console.log(
    `pool benchmark: ${RUNS} runs each, medians (throughput in tasks/s, latency in µs)\n`,
  );
  const noop = (runner: Runner) => burst(runner, 'noop', BURST);
  const cpu = (runner: Runner) => burst(runner, 'sha', CPU_TASKS);
  const loadBefore = os.loadavg();
  const seq = (runner: Runner) => oneAtATime(runner, SEQUENTIAL);

  r.offloadThreadNoop = await measure('no-op burst: offload thread pool', offload('thread'), noop);
  r.piscinaNoop = await measure('no-op burst: Piscina (defaults)', piscina(), noop);
  r.piscina16Noop = await measure(
    'no-op burst: Piscina (16 in flight per worker)',
    piscina(16),
    noop,
  );
  r.tinypoolNoop = await measure('no-op burst: Tinypool', tinypool('worker_threads'), noop);
  [r.offloadThreadSeq, r.piscinaSeq, r.tinypoolSeq, r.rawThreadSeq] = await measureInterleaved(
    [
      { label: 'one at a time: offload thread pool (µs)', make: offload('thread') },
      { label: 'one at a time: Piscina (µs)', make: piscina() },
      { label: 'one at a time: Tinypool (µs)', make: tinypool('worker_threads') },
      { label: 'one at a time: raw worker_threads ping-pong (µs)', make: pingPong('thread') },
    ],
    seq,
  );
  [r.offloadThreadCpu, r.piscinaCpu, r.piscina16Cpu, r.tinypoolCpu, r.inlineCpu, r.bareCpu] =
    await measureInterleaved(
      [
        {
          label: 'sha256 64 KiB: offload thread pool',
          make: offload('thread'),
          what: withCpu('offload', CPU_TASKS, cpu),
        },
        { label: 'sha256 64 KiB: Piscina (defaults)', make: piscina() },
        { label: 'sha256 64 KiB: Piscina (16 in flight)', make: piscina(16) },
        { label: 'sha256 64 KiB: Tinypool', make: tinypool('worker_threads') },
        {
          label: 'sha256 64 KiB: inline (one thread)',
          make: inline,
          what: withCpu('inline', CPU_TASKS, cpu),
        },
        { label: 'sha256 64 KiB: 2 bare threads, no pool (ceiling)', make: bareThreads },
      ],
      cpu,
    );
  r.offloadProcessNoop = await measure(
    'no-op burst: offload process pool',
    offload('process'),
    noop,
  );
  r.tinypoolChildNoop = await measure(
    'no-op burst: Tinypool child_process',
    tinypool('child_process'),
    (runner) => burst(runner, 'noop', 20_000),
  );
  [r.offloadProcessSeq, r.rawForkSeq, r.tinypoolChildSeq] = await measureInterleaved(
    [
      { label: 'one at a time: offload process pool (µs)', make: offload('process') },
      { label: 'one at a time: raw fork IPC ping-pong (µs)', make: pingPong('process') },
      { label: 'one at a time: Tinypool child_process (µs)', make: tinypool('child_process') },
    ],
    seq,
  );
  writeResults(r, loadBefore, os.loadavg());
}

function writeResults(r: Record<string, number>, loadBefore: number[], loadAfter: number[]): void {
  const k = (n: number) => `${Math.round(n).toLocaleString('en-US')}`;
  const x = (n: number) => `${n.toFixed(2)}×`;
  const target = (ok: boolean) => (ok ? 'met' : '**missed**');
  const pkg = (name: string) =>
    (
      JSON.parse(
        fs.readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
      ) as { version: string }
    ).version;
  const ratios = {
    vsPiscina: r.offloadThreadNoop! / r.piscinaNoop!,
    vsPiscina16: r.offloadThreadNoop! / r.piscina16Noop!,
    latency: r.offloadThreadSeq! / r.rawThreadSeq!,
    processVsTinypool: r.offloadProcessNoop! / r.tinypoolChildNoop!,
    processLatency: r.offloadProcessSeq! / r.rawForkSeq!,
    cpu: r.offloadThreadCpu! / r.inlineCpu!,
  };
  const load = (avg: number[]) => avg.map((n) => n.toFixed(2)).join(' / ');
  const offloadCpu = cpuShare('offload');
  const inlineCpu = cpuShare('inline');
  const section = `<!-- pool:start -->
## Pool (\`npm run bench:pool\`)

${new Date().toISOString().slice(0, 10)} · ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()} · Node ${process.version} · ${os.platform()} ${os.release()} ·
piscina ${pkg('piscina')} · tinypool ${pkg('tinypool')}. Two workers each; medians of ${RUNS} runs after a warm-up (one at a time and CPU-bound: ${ALTERNATING_RUNS} runs, alternating between the systems compared).
No-op: ${k(BURST)} tasks submitted at once (Tinypool child_process: 20 000); one at a time: ${k(SEQUENTIAL)} sequential
round trips; CPU: ${k(CPU_TASKS)} × sha256 of 64 KiB submitted at once. offload runs with its defaults (\`tasksPerWorker: 'auto'\`).

| scenario | offload | peers |
|---|---|---|
| thread no-op burst (tasks/s) | ${k(r.offloadThreadNoop!)} | Piscina ${k(r.piscinaNoop!)} · Piscina 16 in flight ${k(r.piscina16Noop!)} · Tinypool ${k(r.tinypoolNoop!)} |
| thread one at a time (µs per task) | ${r.offloadThreadSeq!.toFixed(1)} | raw postMessage ${r.rawThreadSeq!.toFixed(1)} · Piscina ${r.piscinaSeq!.toFixed(1)} · Tinypool ${r.tinypoolSeq!.toFixed(1)} |
| thread sha256 64 KiB (tasks/s) | ${k(r.offloadThreadCpu!)} | inline ${k(r.inlineCpu!)} · 2 bare threads, no pool ${k(r.bareCpu!)} (${x(r.bareCpu! / r.inlineCpu!)} inline: the machine's ceiling) · Piscina ${k(r.piscinaCpu!)} · Piscina 16 ${k(r.piscina16Cpu!)} · Tinypool ${k(r.tinypoolCpu!)} |
| process no-op burst (tasks/s) | ${k(r.offloadProcessNoop!)} | Tinypool child_process ${k(r.tinypoolChildNoop!)} |
| process one at a time (µs per task) | ${r.offloadProcessSeq!.toFixed(1)} | raw fork IPC ${r.rawForkSeq!.toFixed(1)} · Tinypool child_process ${r.tinypoolChildSeq!.toFixed(1)} |

| target (issue 3) | ratio | |
|---|---|---|
| thread no-op ≥ 3× Piscina defaults | ${x(ratios.vsPiscina)} | ${target(ratios.vsPiscina >= 3)} |
| thread no-op ≥ 1.5× Piscina 16 in flight | ${x(ratios.vsPiscina16)} | ${target(ratios.vsPiscina16 >= 1.5)} |
| one at a time ≤ 1.2× raw postMessage | ${x(ratios.latency)} | ${target(ratios.latency <= 1.2)} |
| process no-op ≥ 3× Tinypool child_process | ${x(ratios.processVsTinypool)} | ${target(ratios.processVsTinypool >= 3)} |
| process one at a time ≤ 1.3× raw fork IPC | ${x(ratios.processLatency)} | ${target(ratios.processLatency <= 1.3)} |
| CPU with 2 threads ≥ 1.8× inline | ${x(ratios.cpu)} | ${target(ratios.cpu >= 1.8)} |

Load average (1 / 5 / 15 min) on ${os.availableParallelism()} CPUs: ${load(loadBefore)} at the start, ${load(loadAfter)} at the end.
Where the CPU-bound time goes (process CPU time over wall time, all threads, medians): inline used
${inlineCpu.cores.toFixed(2)} cores at ${inlineCpu.cpuUsPerTask.toFixed(1)} µs of CPU per hash; offload's two threads and the parent used
${offloadCpu.cores.toFixed(2)} cores at ${offloadCpu.cpuUsPerTask.toFixed(1)} µs per hash. Two threads can beat inline by at most the
cores they get over the cores inline got (${(offloadCpu.cores / inlineCpu.cores).toFixed(2)}× here), times inline's CPU per hash over theirs
(${(inlineCpu.cpuUsPerTask / offloadCpu.cpuUsPerTask).toFixed(2)}×).
<!-- pool:end -->`;
  const file = new URL('./RESULTS.md', import.meta.url);
  const current = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8')
    : '# Benchmark results\n\nEach benchmark replaces only its own section.\n';
  const pattern = /<!-- pool:start -->[\s\S]*<!-- pool:end -->/;
  const next = pattern.test(current)
    ? current.replace(pattern, section)
    : `${current.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, next);
  console.log(`\n${section}`);
}

await main();
