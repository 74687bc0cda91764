/**
 * `npm run bench:http`: autocannon against `POST /v1/jobs` and `GET /v1/jobs/{id}` of the HTTP API
 * on the embedded SQLite store. The server runs in a child process (bench/fixtures/http-server.ts),
 * autocannon in this one; both share the machine's cores. A 202 is only sent after the job's row
 * is committed, and each run checks it: the server is killed with SIGKILL at the end and the file
 * must hold every accepted job. Medians of 3 runs go to bench/RESULTS.md (http markers).
 * `PROFILE=1` runs once, writes a CPU profile of each server process to bench/.profiles/ and
 * leaves RESULTS.md alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { writeResultsSection } from './results-section.ts';

const RUNS = process.env.PROFILE ? 1 : 3;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SEED = 20_000;
const TARGET = { jobsPerSecond: 5000, p99Ms: 25 };
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-bench-http-'));
const profileDir = path.join(here, '.profiles');
let fileNo = 0;

interface Server {
  url: string;
  token: string;
  file: string;
  child: ChildProcess;
}
interface Measure {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}
interface Scenario {
  name: string;
  worker: boolean;
  method: 'POST' | 'GET';
}

const SCENARIOS: Scenario[] = [
  { name: 'POST /v1/jobs (server only)', worker: false, method: 'POST' },
  {
    name: 'POST /v1/jobs (server + worker running them, as `offload start`)',
    worker: true,
    method: 'POST',
  },
  { name: 'GET /v1/jobs/{id} (20 000 jobs stored)', worker: false, method: 'GET' },
];

async function startServer(worker: boolean): Promise<Server> {
  const file = path.join(dir, `http${fileNo++}.db`);
  const profile = process.env.PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [
      ...profile,
      '--import',
      'tsx',
      path.join(here, 'fixtures/http-server.ts'),
      file,
      ...(worker ? ['worker'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited early (${code})`)));
  });
  return { ...(JSON.parse(line) as { url: string; token: string }), file, child };
}

function stop(server: Server, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill(signal);
  });
}

function storedJobs(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM offload_jobs').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function headers(server: Server): Record<string, string> {
  return { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
}

async function seed(server: Server): Promise<void> {
  const jobs = Array.from({ length: 1000 }, (_, n) => ({ task: 'noop', payload: { n } }));
  for (let done = 0; done < SEED; done += jobs.length) {
    const response = await fetch(`${server.url}/v1/jobs/batch`, {
      method: 'POST',
      headers: headers(server),
      body: JSON.stringify({ jobs }),
    });
    if (response.status !== 202)
      throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
  }
}

async function load(
  server: Server,
  method: 'POST' | 'GET',
  seconds: number,
): Promise<autocannon.Result> {
  const common = {
    url: server.url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: headers(server),
  };
  if (method === 'POST')
    return autocannon({
      ...common,
      url: `${server.url}/v1/jobs`,
      method: 'POST',
      body: JSON.stringify({ task: 'noop', payload: { to: 'ada@example.com', n: 1 } }),
    });
  let n = 0;
  return autocannon({
    ...common,
    headers: { authorization: `Bearer ${server.token}` },
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/v1/jobs/${(n++ % SEED) + 1}` }),
      },
    ],
  });
}

async function measure(scenario: Scenario): Promise<Measure> {
  const server = await startServer(scenario.worker);
  try {
    if (scenario.method === 'GET') await seed(server);
    await load(server, scenario.method, 2);
    const before = storedJobs(server.file);
    const result = await load(server, scenario.method, DURATION_S);
    const errors = result.non2xx + result.errors + result.timeouts;
    await stop(server, process.env.PROFILE ? 'SIGTERM' : 'SIGKILL');
    if (scenario.method === 'POST') {
      const stored = storedJobs(server.file) - before;
      if (stored < result['2xx'])
        throw new Error(
          `${result['2xx']} jobs were accepted but only ${stored} are in the file after the server was killed`,
        );
    }
    return {
      perSecond: Math.round(result['2xx'] / DURATION_S),
      p50: result.latency.p50,
      p99: result.latency.p99,
      errors,
    };
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null)
      await stop(server, 'SIGKILL');
  }
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const require = createRequire(import.meta.url);
const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
const loadBefore = os.loadavg()[0]!;
const runs = new Map<Scenario, Measure[]>(SCENARIOS.map((s) => [s, []]));
for (let run = 0; run < RUNS; run++) {
  for (const scenario of SCENARIOS) runs.get(scenario)!.push(await measure(scenario));
  process.stderr.write(`bench:http run ${run + 1}/${RUNS} done\n`);
}

const summary = SCENARIOS.map((scenario) => {
  const measures = runs.get(scenario)!;
  return {
    scenario,
    perSecond: median(measures.map((m) => m.perSecond)),
    p50: median(measures.map((m) => m.p50)),
    p99: median(measures.map((m) => m.p99)),
    errors: measures.reduce((sum, m) => sum + m.errors, 0),
    all: measures,
  };
});
const post = summary[0]!;
const met = post.perSecond >= TARGET.jobsPerSecond && post.p99 < TARGET.p99Ms;
const fmt = (n: number) => n.toLocaleString('en-US');
const markdown = [
  '## HTTP API (`npm run bench:http`)',
  '',
  `${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · load before ${loadBefore.toFixed(2)} · fastify ${version('fastify')} · better-sqlite3 ${version('better-sqlite3')} · autocannon ${version('autocannon')}`,
  `Server (createServer defaults: session token, rate limit on, SQLite WAL synchronous=NORMAL) in one process, autocannon (${CONNECTIONS} connections, its default, no pipelining, ${DURATION_S} s after a 2 s warm-up) in another, on the same 2 cores. Every 202 is sent after the job's row is committed; each run kills the server with SIGKILL and checks that the file holds every accepted job. Medians of ${RUNS} runs, a fresh database each. Latencies in whole milliseconds as autocannon records them (0: under 1 ms).`,
  '',
  '| scenario | 2xx answers/s | p50 ms | p99 ms | errors | runs (answers/s) |',
  '|---|---:|---:|---:|---:|---|',
  ...summary.map(
    (s) =>
      `| ${s.scenario.name} | ${fmt(s.perSecond)} | ${s.p50} | ${s.p99} | ${s.errors} | ${s.all.map((m) => fmt(m.perSecond)).join(' · ')} |`,
  ),
  '',
  `Target (issue 5): ≥ ${fmt(TARGET.jobsPerSecond)} accepted jobs/s with p99 < ${TARGET.p99Ms} ms on POST /v1/jobs: ${fmt(post.perSecond)} jobs/s, p99 ${post.p99} ms: **${met ? 'met' : 'missed'}**.${met ? '' : ' `PROFILE=1 npm run bench:http` profiles the server to see where the time goes.'}`,
].join('\n');
if (!process.env.PROFILE) writeResultsSection('http', markdown);
fs.rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${markdown}\n`);
