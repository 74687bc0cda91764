/**
 * offload/browser: bundle size (esbuild, minified, then gzip -9) of the page side and the worker
 * side beside Comlink and workerpool bundled the same way, and the longest gap between animation
 * frames in Chromium while the same heavy render runs on the page's thread or in the pool.
 * Writes the browser section of bench/RESULTS.md. Run it with `npm run bench:browser`.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { call, HEAVY_VIEW, openTestSite, type FrameGaps } from '../test/browser/browser-page.ts';
import { bundleBytes } from '../tools/browser-build.ts';
import { launchChromium } from '../tools/chromium.ts';
import { writeResultsSection } from './results-section.ts';

const RUNS = 5;
const TARGET_BYTES = 5 * 1024;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What a page and its worker import of each library. */
const LIBRARIES = {
  'offload/browser': {
    page: `export { createPool } from 'offload/browser';`,
    worker: `export { serve } from 'offload/browser/worker';`,
  },
  comlink: {
    page: `export { wrap, transfer } from 'comlink';`,
    worker: `export { expose } from 'comlink';`,
  },
  workerpool: {
    page: `import workerpool from 'workerpool'; export const pool = workerpool.pool;`,
    worker: `import workerpool from 'workerpool'; export const worker = workerpool.worker;`,
  },
};

interface Size {
  min: number;
  gzip: number;
}

/** workerpool's browser build requires these only when it runs in Node; a browser bundle leaves them out. */
const NODE_ONLY = ['worker_threads', 'os', 'child_process'];

async function size(source: string): Promise<Size> {
  const bytes = await bundleBytes({ source, resolveDir: ROOT }, NODE_ONLY);
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

async function frameGaps(): Promise<{ main: FrameGaps[]; pool: FrameGaps[]; chromium: string }> {
  const browser = await launchChromium();
  const chromium = browser.version();
  await browser.close();
  const site = await openTestSite();
  try {
    const page = await site.open();
    const main: FrameGaps[] = [];
    const pool: FrameGaps[] = [];
    await call(page, 'frameGaps', 'pool', { ...HEAVY_VIEW, maxIterations: 100 });
    for (let run = 0; run < RUNS; run++) {
      main.push(await call<FrameGaps>(page, 'frameGaps', 'main', HEAVY_VIEW));
      pool.push(await call<FrameGaps>(page, 'frameGaps', 'pool', HEAVY_VIEW));
    }
    return { main, pool, chromium };
  } finally {
    await site.close();
  }
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;
const version = (name: string) =>
  (
    JSON.parse(
      fs.readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8'),
    ) as { version: string }
  ).version;

async function main(): Promise<void> {
  const rows: string[] = [];
  let offloadPage = 0;
  let offloadBoth = 0;
  for (const [name, sides] of Object.entries(LIBRARIES)) {
    const page = await size(sides.page);
    const worker = await size(sides.worker);
    if (name === 'offload/browser')
      [offloadPage, offloadBoth] = [page.gzip, page.gzip + worker.gzip];
    const label = name === 'offload/browser' ? name : `${name} ${version(name)}`;
    rows.push(
      `| ${label} | ${kb(page.min)} / **${kb(page.gzip)}** | ${kb(worker.min)} / **${kb(worker.gzip)}** | **${kb(page.gzip + worker.gzip)}** |`,
    );
  }
  const gaps = await frameGaps();
  const mainGap = median(gaps.main.map((gap) => gap.longestGapMs));
  const poolGap = median(gaps.pool.map((gap) => gap.longestGapMs));
  const range = (list: FrameGaps[]) =>
    `${Math.min(...list.map((gap) => gap.longestGapMs)).toFixed(1)}–${Math.max(...list.map((gap) => gap.longestGapMs)).toFixed(1)}`;
  const jobMs = (list: FrameGaps[]) => median(list.map((gap) => gap.jobMs)).toFixed(0);
  const met = (ok: boolean) => (ok ? 'met' : '**missed**');
  writeResultsSection(
    'browser',
    `## Browser pool (\`npm run bench:browser\`)

${new Date().toISOString().slice(0, 10)} · ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()} · Chromium ${gaps.chromium} (headless) · esbuild ${version('esbuild')}.

Bundle size: what a page and its worker import (\`createPool\` / \`serve\`; Comlink \`wrap\`+\`transfer\` / \`expose\`;
workerpool \`pool\` / \`worker\`), bundled by esbuild for the browser as ES modules, minified, then gzip -9
(workerpool's \`require\`s of Node's \`worker_threads\`, \`os\` and \`child_process\` left out).

| library | page: min / min+gzip | worker: min / min+gzip | both, min+gzip |
|---|---|---|---|
${rows.join('\n')}

Responsiveness: the longest gap between \`requestAnimationFrame\` callbacks while a Mandelbrot render
(${HEAVY_VIEW.width}×${HEAVY_VIEW.height}, ${HEAVY_VIEW.maxIterations} iterations) runs on the page's thread or in a one-worker pool;
median (range) of ${RUNS} runs.

| where the render runs | longest frame gap | render time |
|---|---|---|
| main thread | **${mainGap.toFixed(1)} ms** (${range(gaps.main)}) | ${jobMs(gaps.main)} ms |
| offload/browser pool | **${poolGap.toFixed(1)} ms** (${range(gaps.pool)}) | ${jobMs(gaps.pool)} ms |

| target (issue 7) | measured | |
|---|---|---|
| \`offload/browser\` (the page's bundle) < 5 KB min+gzip | ${kb(offloadPage)} | ${met(offloadPage < TARGET_BYTES)} |
| page + worker (\`offload/browser/worker\` is loaded by the worker, not the page) | ${kb(offloadBoth)} | ${met(offloadBoth < TARGET_BYTES)} |
| main thread: longest frame gap > 500 ms | ${mainGap.toFixed(1)} ms | ${met(mainGap > 500)} |
| pool: longest frame gap < 50 ms | ${poolGap.toFixed(1)} ms | ${met(poolGap < 50)} |`,
  );
}

await main();
