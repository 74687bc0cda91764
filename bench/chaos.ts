/**
 * `npm run chaos`: the long forms of the chaos and soak suites (test/chaos/ runs the short forms).
 * Chaos: 20 000 jobs per store with workers and the server SIGKILLed, and PostgreSQL restarted
 * once. Soak: 500 000 jobs per store through one server and one worker, memory and database size
 * sampled; the soak numbers go to the `soak` section of bench/RESULTS.md.
 *
 * PostgreSQL: by default a private cluster is made for the run (initdb in a temp folder, port 5499,
 * run as the `postgres` user when started as root), so restarting it disturbs nobody. Pass
 * `--shared-postgres` to use OFFLOAD_TEST_PG_URL (or the local `test` database) and restart it with
 * `pg_ctlcluster --skip-systemctl-redirect 15 main restart`. Options: `--only chaos|soak`,
 * `--jobs N` and `--soak-jobs N` to shrink a run. On a shared machine run it under
 * `flock /tmp/offload-bench.lock npm run chaos`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeResultsSection } from './results-section.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    jobs: { type: 'string', default: '20000' },
    'soak-jobs': { type: 'string', default: '500000' },
    'shared-postgres': { type: 'boolean', default: false },
  },
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-chaos-long-'));
const say = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_PORT = 5499;
let stopPrivate = () => undefined as void;
let restartDatabase: () => void;

if (args['shared-postgres']) {
  restartDatabase = () =>
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', '15', 'main', 'restart'], {
      stdio: 'inherit',
    });
} else {
  const data = path.join(dir, 'pg');
  fs.mkdirSync(data);
  const asPostgres = process.getuid?.() === 0;
  if (asPostgres) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    for (const folder of [dir, data]) fs.chownSync(folder, uid, 0);
  }
  const pg = (bin: string, ...rest: string[]) => {
    const command = [path.join(PG_BIN, bin), ...rest];
    execFileSync(
      asPostgres ? 'su' : command[0]!,
      asPostgres
        ? ['postgres', '-c', command.map((part) => `'${part}'`).join(' ')]
        : command.slice(1),
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  };
  const options = `-p ${PG_PORT} -k ${dir} -c max_connections=200`;
  pg('initdb', '-D', data, '-A', 'trust', '-U', 'postgres');
  pg('pg_ctl', '-D', data, '-o', options, '-l', path.join(dir, 'pg.log'), '-w', 'start');
  process.env.OFFLOAD_TEST_PG_URL = `postgres://postgres@127.0.0.1:${PG_PORT}/postgres`;
  restartDatabase = () =>
    pg(
      'pg_ctl',
      '-D',
      data,
      '-o',
      options,
      '-l',
      path.join(dir, 'pg.log'),
      '-w',
      '-m',
      'fast',
      'restart',
    );
  let running = true;
  stopPrivate = () => {
    if (running) pg('pg_ctl', '-D', data, '-w', '-m', 'fast', 'stop');
    running = false;
  };
  process.on('exit', stopPrivate);
  say(`private PostgreSQL on port ${PG_PORT}`);
}

// Imported after OFFLOAD_TEST_PG_URL is set: the test helpers read it once.
const { runChaos } = await import('../test/chaos/chaos-run.ts');
const { runSoak } = await import('../test/chaos/soak-run.ts');
const { assertSurvived } = await import('../test/chaos/assert-survived.ts');

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const pct = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %`;

try {
  if (args.only !== 'soak') {
    for (const store of ['sqlite', 'postgres'] as const) {
      say(`chaos on ${store}: ${args.jobs} jobs`);
      const report = await runChaos({
        store,
        jobs: Number(args.jobs),
        workers: 4,
        killEveryMs: 300,
        dir,
        log: say,
        restartDatabase: store === 'postgres' ? restartDatabase : undefined,
      });
      console.log(
        JSON.stringify({
          ...report,
          lost: report.lost.length,
          unexplained: report.unexplained.slice(0, 5),
        }),
      );
      assertSurvived(report);
    }
  }
  if (args.only !== 'chaos') {
    const rows: string[] = [];
    const checks: Array<() => void> = [];
    for (const store of ['sqlite', 'postgres'] as const) {
      say(`soak on ${store}: ${args['soak-jobs']} jobs`);
      const report = await runSoak({
        store,
        jobs: Number(args['soak-jobs']),
        retentionMs: 5_000,
        dir,
        log: say,
      });
      console.log(JSON.stringify(report));
      checks.push(() => {
        assert.equal(report.failed, 0, `${store}: no job failed`);
        assert.ok(
          report.serverRss.growth < 0.1,
          `${store}: server RSS grew ${pct(report.serverRss.growth)} after warm-up`,
        );
        assert.ok(
          report.workerRss.growth < 0.1,
          `${store}: worker RSS grew ${pct(report.workerRss.growth)} after warm-up`,
        );
        assert.ok(
          report.serverHeap.growth < 0.1,
          `${store}: server heap grew ${pct(report.serverHeap.growth)} after warm-up`,
        );
        assert.ok(
          report.workerHeap.growth < 0.1,
          `${store}: worker heap grew ${pct(report.workerHeap.growth)} after warm-up`,
        );
        assert.ok(
          report.rowsAtEnd < report.jobs / 5,
          `${store}: retention deleted the finished jobs (${report.rowsAtEnd} rows left)`,
        );
      });
      const cell = (series: { warm: number; end: number; max: number; growth: number }) =>
        `${mb(series.warm)} → ${mb(series.end)} (${pct(series.growth)}, max ${mb(series.max)})`;
      rows.push(
        `| ${store} | ${report.jobs.toLocaleString('en')} | ${report.jobsPerSecond.toLocaleString('en')} | ${cell(report.serverRss)} | ${cell(report.serverHeap)} | ${cell(report.workerRss)} | ${cell(report.workerHeap)} | ${mb(report.databaseBytes.warm)} → ${mb(report.databaseBytes.end)} (max ${mb(report.databaseBytes.max)}) | ${report.rowsAtEnd.toLocaleString('en')} |`,
      );
    }
    if (Number(args['soak-jobs']) >= 500_000) {
      writeResultsSection(
        'soak',
        [
          '## Soak: 500 000 jobs through one server and one worker (`npm run chaos`)',
          '',
          `No-op jobs posted over HTTP in batches of 500 (backlog held under 5 000) to one server process, run by one worker process (concurrency 50) with retention 5 s. RSS and heap (in use after a full collection, which each process runs every second to sample it) in MB at the end of warm-up (first quarter of the jobs) → at the end (last tenth), growth, and the largest value after warm-up; database size in MB likewise (SQLite: file + WAL; PostgreSQL: the schema's tables with indexes and TOAST). ${os.cpus().length} vCPUs, Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}.`,
          '',
          '| store | jobs | jobs/s | server RSS | server heap | worker RSS | worker heap | database | rows left |',
          '|---|---|---|---|---|---|---|---|---|',
          ...rows,
        ].join('\n'),
      );
    }
    for (const check of checks) check();
  }
} finally {
  stopPrivate();
  fs.rmSync(dir, { recursive: true, force: true });
}
