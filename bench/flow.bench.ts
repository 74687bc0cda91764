/**
 * `npm run bench:flow`: what flow control (issue 18) costs, on SQLite and PostgreSQL side by side
 * in one run, with BullMQ on Redis beside it: the drain of a backlog with and without per-key
 * limits, the accuracy of a key rate, and the time of a claim against many running jobs. Writes
 * its section of bench/RESULTS.md (flow markers) and its entry of bench/results.json.
 *
 *   flock /tmp/offload-bench.lock npm run bench:flow
 *
 * BENCH_QUICK=1: small sizes and one round, printed only. PostgreSQL: OFFLOAD_BENCH_PG_URL,
 * Redis: OFFLOAD_BENCH_REDIS_URL (see bench/flow-stores.ts).
 */
import os from 'node:os';
import { Redis } from 'ioredis';
import { summarize } from '../src/bench/stats.ts';
import {
  BULL_GLOBAL_CONCURRENCY,
  BULL_LIMITER,
  claimCost,
  drainBullmq,
  drainOffload,
  KEY_CONCURRENCY,
  KEY_RATE,
  KEYS,
  PROBE_JOBS,
  RATE_KEYS,
  rateAccuracy,
  WORKER_CONCURRENCY,
  type DrainResult,
  type KeyStarts,
} from './flow-measures.ts';
import { PG_URL, REDIS_URL, STORE_KINDS, type CallStats } from './flow-stores.ts';
import { serverVersions } from './pg-peers.ts';
import { machine, packageVersion, writeResultsJson, writeSection } from './sections.ts';

const QUICK = process.env['BENCH_QUICK'] === '1';
const SIZES = QUICK
  ? { jobs: 2_000, rounds: 1, rateSeconds: 2, probes: 10, running: [100, 1_000] }
  : { jobs: 20_000, rounds: 3, rateSeconds: 3.5, probes: 50, running: [100, 1_000, 10_000] };
/**
 * The issue's targets: limited drain over unlimited, and the claim's growth from 100 to the most
 * running; and (ours) the share of what a key rate allows that a backlog actually gets.
 */
const TARGET = { limitedRatio: 0.7, claimGrowth: 1.5, rateUsed: 0.9 };

/** One drain measured every round; its ratio is to `baseline`'s drain of the same round. */
interface Subject {
  id: string;
  system: string;
  setting: string;
  baseline: string;
  run(jobs: number): Promise<DrainResult | number>;
}

const subjects: Subject[] = [
  ...STORE_KINDS.flatMap((kind) =>
    (['unkeyed', 'keyed', 'limited'] as const).map((setting): Subject => ({
      id: `${kind.name}:${setting}`,
      system: `offload ${kind.name}`,
      setting: {
        unkeyed: 'no limits, no keys',
        keyed: `no limits, ${KEYS} keys`,
        limited: `${KEYS} keys, keyConcurrency ${KEY_CONCURRENCY}`,
      }[setting],
      baseline: `${kind.name}:unkeyed`,
      run: (jobs) => drainOffload(kind, setting, jobs),
    })),
  ),
  ...(['plain', 'global', 'limiter'] as const).map((setting): Subject => ({
    id: `bullmq:${setting}`,
    system: 'BullMQ',
    setting: {
      plain: 'no limits',
      global: `setGlobalConcurrency(${BULL_GLOBAL_CONCURRENCY})`,
      limiter: `limiter ${BULL_LIMITER.max.toLocaleString('en-US')} per ${BULL_LIMITER.duration} ms`,
    }[setting],
    baseline: 'bullmq:plain',
    run: (jobs) => drainBullmq(setting, jobs),
  })),
];

const rates = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
const details = new Map<string, DrainResult[]>(subjects.map((s) => [s.id, []]));
const median = (values: readonly number[]) => summarize(values).median;
const log = (text: string) => process.stderr.write(`bench:flow ${text}\n`);

/** Every subject once, in order or (odd rounds) reversed, so each meets the machine's load in turn. */
async function round(index: number, jobs: number, recorded: boolean): Promise<void> {
  for (const subject of index % 2 === 0 ? subjects : [...subjects].reverse()) {
    const result = await subject.run(jobs);
    const perSecond = typeof result === 'number' ? result : result.perSecond;
    log(`${recorded ? `round ${index + 1}` : 'warm-up'} ${subject.id}: ${Math.round(perSecond)}/s`);
    if (!recorded) continue;
    rates.get(subject.id)!.push(perSecond);
    if (typeof result !== 'number') details.get(subject.id)!.push(result);
  }
}

/** The median of the per-round ratios to the subject's baseline, and each round's. */
function ratio(subject: Subject): { median: number; rounds: number[] } {
  const own = rates.get(subject.id)!;
  const base = rates.get(subject.baseline)!;
  const rounds = own.map((rate, i) => rate / base[i]!);
  return { median: median(rounds), rounds };
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
if (!QUICK) await round(0, SIZES.jobs / 10, false);
for (let index = 0; index < SIZES.rounds; index++) await round(index, SIZES.jobs, true);

const rateRuns = new Map<string, KeyStarts[]>();
for (const kind of STORE_KINDS) {
  rateRuns.set(kind.name, await rateAccuracy(kind, SIZES.rateSeconds));
  log(`rate ${kind.name}: ${JSON.stringify(rateRuns.get(kind.name))}`);
}

const claimRuns = new Map<string, number[]>();
for (const kind of STORE_KINDS)
  for (const limited of [true, false])
    for (const running of SIZES.running) {
      const id = `${kind.name}:${limited ? 'limited' : 'unlimited'}:${running}`;
      claimRuns.set(id, await claimCost(kind, running, SIZES.probes, limited));
      log(`claim ${id}: median ${median(claimRuns.get(id)!).toFixed(2)} ms`);
    }
const loadAfter = os.loadavg()[0]!;

const n = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const met = (ok: boolean) => (ok ? 'met' : '**missed**');
const most = SIZES.running.at(-1)!;
const claimMedian = (kind: string, queue: string, running: number) =>
  median(claimRuns.get(`${kind}:${queue}:${running}`)!);
const growth = (kind: string, queue: string) =>
  claimMedian(kind, queue, most) / claimMedian(kind, queue, SIZES.running[0]!);

function drainRow(subject: Subject): string {
  const { median: r, rounds } = ratio(subject);
  const runs = rates.get(subject.id)!;
  const drains = details.get(subject.id)!;
  const sum = (pick: (d: DrainResult) => number) => drains.reduce((total, d) => total + pick(d), 0);
  const share = (part: number) => `${((100 * part) / sum((d) => d.drainMs)).toFixed(0)}%`;
  const callCells = (pick: (d: DrainResult) => CallStats) => {
    const count = sum((d) => pick(d).calls);
    return [
      n(count / drains.length),
      (sum((d) => pick(d).jobs) / count).toFixed(1),
      ms(sum((d) => pick(d).ms) / count),
      share(sum((d) => pick(d).ms)),
    ];
  };
  const most = (pick: (d: DrainResult) => number) => {
    const value = Math.max(...drains.map(pick));
    return value ? String(value) : '–';
  };
  const cells = drains.length
    ? [
        ...callCells((d) => d.claims),
        ...callCells((d) => d.outcomes),
        most((d) => d.maxExecuting),
        most((d) => d.maxPerKey),
      ]
    : Array.from({ length: 10 }, () => '–');
  return `| ${subject.system} | ${subject.setting} | ${n(median(runs))} | ${r.toFixed(2)}× (${rounds.map((x) => x.toFixed(2)).join(', ')}) | ${runs.map(n).join(' / ')} | ${cells.join(' | ')} |`;
}

function rateRows(): string[] {
  return [...rateRuns].flatMap(([kind, keys]) =>
    keys.map(
      (key) =>
        `| ${kind} | ${key.key} | ${key.starts} | ${key.allowed} | ${key.maxInWindow} | ${key.perWindow.join(' / ')} | ${ms(key.lagP50)} | ${ms(key.lagMax)} |`,
    ),
  );
}

function claimRows(): string[] {
  return STORE_KINDS.flatMap((kind) =>
    ['limited', 'unlimited'].map(
      (queue) =>
        `| ${kind.name} | ${queue === 'limited' ? `concurrency above the running jobs` : 'no limits (for reference)'} | ${SIZES.running.map((running) => ms(claimMedian(kind.name, queue, running))).join(' | ')} | ${growth(kind.name, queue).toFixed(2)}× |`,
    ),
  );
}

function targetRows(): string[] {
  return STORE_KINDS.flatMap((kind) => {
    const limited = ratio(subjects.find((s) => s.id === `${kind.name}:limited`)!);
    const keys = rateRuns.get(kind.name)!;
    const worst = Math.max(...keys.map((key) => key.maxInWindow));
    const used = Math.min(...keys.map((key) => key.starts / key.allowed));
    const claim = growth(kind.name, 'limited');
    return [
      `| ${kind.name}: limited drain ≥ ${TARGET.limitedRatio} × unlimited | ${limited.median.toFixed(2)}× (rounds ${limited.rounds.map((x) => x.toFixed(2)).join(', ')}) | ${met(limited.median >= TARGET.limitedRatio)} |`,
      `| ${kind.name}: no key over ${KEY_RATE.limit} starts in any ${KEY_RATE.per} ms | at most ${worst} | ${met(worst <= KEY_RATE.limit)} |`,
      `| ${kind.name}: a backlogged key gets ≥ ${TARGET.rateUsed * 100}% of what its rate allows | ${(used * 100).toFixed(0)}% (the least of ${keys.length} keys) | ${met(used >= TARGET.rateUsed)} |`,
      `| ${kind.name}: claim flat, ${n(most)} / ${SIZES.running[0]} running ≤ ${TARGET.claimGrowth}× | ${claim.toFixed(2)}× | ${met(claim <= TARGET.claimGrowth)} |`,
    ];
  });
}

const host = machine();
const markdown = [
  '<!-- flow:start -->',
  '## Flow control (`npm run bench:flow`)',
  '',
  `${new Date().toISOString().slice(0, 10)} · ${host.cpus} × ${host.cpuModel} · Node ${host.node} · ${host.platform} ${host.release} · load (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after · better-sqlite3 ${packageVersion('better-sqlite3')} · pg ${packageVersion('pg')} · ${await serverVersions(PG_URL)} · bullmq ${packageVersion('bullmq')} · ioredis ${packageVersion('ioredis')} · Redis ${await redisVersion()}`,
  'Each measurement on a fresh store (a new SQLite file with WAL and synchronous=NORMAL; a new PostgreSQL schema) with its defaults; producer and worker in one process.',
  '',
  `**Processing**: ${n(SIZES.jobs)} no-op jobs enqueued first, then drained by one worker (inline task, concurrency ${WORKER_CONCURRENCY}) until the last outcome is committed. ` +
    `Limited: \`limitsSet({ layer: 'runtime', limits: { keyConcurrency: ${KEY_CONCURRENCY} } })\` before the worker starts, jobs spread over ${KEYS} keys. ` +
    `Medians of ${SIZES.rounds} rounds after a warm-up round at a tenth of the size, every subject once a round, the order reversed every other round; the ratio is the median of the per-round ratios to the first row of its system. ` +
    'Claims and outcome writes (`jobClaim`, `jobRecordOutcomes`): calls per drain, mean jobs and wall time of one call, and their summed wall time as a share of the drain (outcome writes overlap one another, claims do not); "executing per key" is the most runs of one key in the task’s code at once (the task counts them), "start to end per key" the most between their `job:start` and `job:end` events: `job:end` comes once the outcome is written, and a key’s next run may start as soon as a run has returned (docs/flow-control.md), so this one can read above the limit.',
  '',
  '| system | setting | processed/s | ratio | rounds (processed/s) | claims | jobs per claim | ms per claim | in claims | outcome writes | jobs per write | ms per write | in writes | executing per key | start to end per key |',
  '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...subjects.map(drainRow),
  '',
  `**Rate accuracy**: keyRate ${KEY_RATE.limit} per ${KEY_RATE.per} ms over ${RATE_KEYS} keys with a backlog, one worker (concurrency ${WORKER_CONCURRENCY}) for ${SIZES.rateSeconds} s, by the start times the store recorded. ` +
    `Allowed: ${KEY_RATE.limit} for every ${KEY_RATE.per} ms begun in the ${SIZES.rateSeconds} s from the run's first start. Lag: how long after a start left the window the start it made room for came.`,
  '',
  '| store | key | starts | allowed | most in any 1 s | per 1 s from the first start | lag p50 ms | lag max ms |',
  '|---|---|---:|---:|---:|---|---:|---:|',
  ...rateRows(),
  '',
  `**Claim cost against running jobs**: jobs over ${KEYS} keys claimed by another worker id (lease 1 h) and never finished; then the median wall time of one \`jobClaim\` of ${PROBE_JOBS} more, over ${SIZES.probes} claims after 5 unmeasured, each followed by the success of those ${PROBE_JOBS}.`,
  '',
  `| store | queue | ${SIZES.running.map((running) => `${n(running)} running ms`).join(' | ')} | ${n(most)} / ${SIZES.running[0]} |`,
  `|---|---|${SIZES.running.map(() => '---:|').join('')}---:|`,
  ...claimRows(),
  '',
  '| target | measured | |',
  '|---|---:|---|',
  ...targetRows(),
  '<!-- flow:end -->',
].join('\n');

console.log(markdown);
if (!QUICK) {
  writeSection('flow', markdown);
  writeResultsJson('flow', {
    sizes: SIZES,
    drains: Object.fromEntries(
      subjects.map((s) => [s.id, { perSecond: rates.get(s.id), details: details.get(s.id) }]),
    ),
    rate: Object.fromEntries(rateRuns),
    claimMs: Object.fromEntries(claimRuns),
  });
}
// BullMQ and the stores are closed; an ioredis or pg timer may still be pending.
process.exit(0);
