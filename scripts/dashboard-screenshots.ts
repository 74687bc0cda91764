/**
 * Regenerates docs/screenshots/*.png: the dashboard's views in Chromium, on a fresh store with the
 * quickstart tasks and a few hundred jobs. Run with `npm run screenshots`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createQueue } from '../src/queue/queue.ts';
import type { Task } from '../src/task/task.ts';
import { createServer } from '../src/server/server.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { loadTaskModule } from '../src/task/load-task-module-node.ts';
import { createWorker } from '../src/worker/worker.ts';
import { launchChromium } from '../tools/chromium.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'docs/screenshots');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-shots-'));
const tasks = await loadTaskModule(path.join(root, 'examples/quickstart/tasks.ts'));
const [hello, report, flaky] = ['hello', 'report', 'flaky'].map((name) =>
  tasks.find((task) => task.name === name)!,
) as [Task, Task, Task];
const store = createSqliteStore({ path: path.join(dir, 'offload.db') });
const worker = createWorker({ store, tasks, concurrency: 4 });
await worker.start();
const server = createServer({ store, tasks, worker, port: 0 });
const url = await server.listen();
const queue = createQueue({ store, tasks });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(server.loginLink());
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  for (let i = 0; i < 60; i++) {
    await queue.enqueueMany(
      Array.from({ length: 5 }, (_, n) => ({
        task: n % 3 === 0 ? flaky : hello,
        payload: n % 3 === 0 ? { chance: 0.3 } : { name: `user ${i}-${n}` },
      })),
    );
    await sleep(100);
  }
  const running = await queue.enqueue(report, { pages: 40 });
  await sleep(3000);
  fs.mkdirSync(out, { recursive: true });
  const shoot = async (name: string, hash: string, ready: () => Promise<unknown>) => {
    await page.goto(`${url}/${hash}`);
    await ready();
    await sleep(600);
    await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
    console.log(`docs/screenshots/${name}.png`);
  };
  await shoot('overview', '#/', () => page.locator('.chart').first().waitFor());
  await shoot('jobs', '#/jobs', () => page.locator('tr[data-job]').first().waitFor());
  await shoot('job', `#/jobs/${running.id}`, () => page.locator('progress').waitFor());
  const failed = (await queue.listJobs({ state: 'failed', limit: 1 })).jobs[0];
  if (failed)
    await shoot('job-failed', `#/jobs/${failed.id}`, () =>
      page.getByRole('heading', { name: 'Error' }).waitFor(),
    );
  await shoot('workers', '#/workers', () => page.locator('tr[data-worker]').first().waitFor());
  await shoot('modes', '#/modes', () => page.getByRole('heading', { name: 'Modes' }).waitFor());
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot('overview-phone', '#/', () => page.locator('.chart').first().waitFor());
} finally {
  await browser.close();
  await server.close();
  await worker.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
