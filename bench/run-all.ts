/**
 * `npm run bench`: every benchmark script, one after another, then bench/results.json with each
 * one's section of bench/RESULTS.md as data. `npm run bench -- switch pool` runs only those.
 * A script that fails is reported and the rest still run; the exit code says whether all passed.
 * Run with `flock /tmp/offload-bench.lock npm run bench`.
 */
import { spawnSync } from 'node:child_process';
import { writeResultsJson } from './sections.ts';

/** Each runs as `npm run bench:<name>` and owns the `<!-- name:start -->` section. Add new ones here. */
export const BENCH_SCRIPTS = ['queue', 'pool', 'pg', 'flow', 'wait', 'switch', 'browser', 'http'];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !BENCH_SCRIPTS.includes(name));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCH_SCRIPTS.join(', ')}`);
  process.exit(2);
}
const failed: string[] = [];
for (const name of wanted.length ? wanted : BENCH_SCRIPTS) {
  const started = Date.now();
  console.log(`\n=== bench:${name} ===`);
  const { status, signal } = spawnSync('npm', ['run', `bench:${name}`], { stdio: 'inherit' });
  console.log(
    `=== bench:${name}: ${status === 0 ? 'done' : `FAILED (${signal ?? `exit ${status}`})`} in ${((Date.now() - started) / 1000).toFixed(0)} s ===`,
  );
  if (status === 0) writeResultsJson(name);
  else failed.push(name);
}
if (failed.length) {
  console.error(
    `\nfailed: ${failed.join(', ')} (their sections of bench/RESULTS.md are left as they were)`,
  );
  process.exit(1);
}
console.log('\nbench/RESULTS.md and bench/results.json updated');
