import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { z } from 'zod';
import { defineTask } from '../../src/task/define-task-node.ts';
import { JOB_STATES } from '../../src/core/job.ts';
import { launchChromium } from '../../tools/chromium.ts';
import { saveLastResult } from '../../src/bench/last-result.ts';
import { runSwitchBench } from '../../src/bench/switch-bench.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { makeTempDir } from '../helpers/temp.ts';
import { isolated, tiny } from '../fixtures/auto-tasks.ts';
import type { Task } from '../../src/task/task.ts';

const slow = defineTask({
  name: 'slow',
  queue: 'lane',
  schema: z.object({ steps: z.number().int().min(0), label: z.string().optional() }),
  example: { steps: 3 },
  run: async (payload: { steps: number }, ctx) => {
    for (let i = 1; i <= payload.steps; i++) {
      await sleep(150, undefined, { signal: ctx.signal });
      ctx.progress(Math.round((i / payload.steps) * 100));
    }
    return { steps: payload.steps };
  },
});

const failedOnce = new Set<string>();
const flakyOnce = defineTask({
  name: 'flaky-once',
  attempts: 1,
  run: async (_payload: unknown, ctx) => {
    if (!failedOnce.has(ctx.job.id)) {
      failedOnce.add(ctx.job.id);
      throw new Error('fails the first time');
    }
    return 'second time lucky';
  },
});

const noop = defineTask({ name: 'noop', queue: 'flood', run: async () => null });

describe('dashboard in Chromium', () => {
  let api: ApiHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const cleanups: Array<() => void> = [];

  before(async () => {
    const dataDir = makeTempDir('dashboard-modes');
    cleanups.push(dataDir.cleanup);
    saveLastResult(dataDir.dir, await runSwitchBench({ quick: true }));
    api = await startApi([slow, flakyOnce, noop, isolated, tiny] as Task[], {
      dataDir: dataDir.dir,
      pools: { process: { maxWorkers: 1, forwardOutput: false } },
    });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.addInitScript(() => {
      const record: number[] = [];
      (globalThis as unknown as { __longTasks: number[] }).__longTasks = record;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) record.push(entry.duration);
      }).observe({ type: 'longtask' as 'mark', buffered: true });
    });
  });
  after(async () => {
    await browser?.close();
    await api?.close();
    for (const cleanup of cleanups) cleanup();
  });

  const jobState = (id: string) =>
    api.call('GET', `/v1/jobs/${id}`).then((r) => r.body.state as string);

  test('a wrong token is refused with a message; the one-time login link logs in once', async () => {
    await page.goto(api.url);
    await page.getByLabel('API token').fill('off_wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'unknown or revoked' }).waitFor();

    const link = api.server.loginLink();
    await page.goto(link);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'offload_session');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');

    const again = await browser.newPage();
    await again.goto(link);
    await again.getByRole('alert').filter({ hasText: 'used or has expired' }).waitFor();
    await again.close();
  });

  test('state-changing requests without the CSRF token are refused and change nothing', async () => {
    const result = await page.evaluate(async () => {
      const response = await fetch('/v1/queues/lane/pause', { method: 'POST' });
      return { status: response.status, body: (await response.json()) as { code: string } };
    });
    assert.equal(result.status, 403);
    assert.equal(result.body.code, 'ERR_CSRF');
    const forged = await page.evaluate(
      async () =>
        (
          await fetch('/v1/queues/lane/pause', {
            method: 'POST',
            headers: { 'x-csrf-token': 'forged' },
          })
        ).status,
    );
    assert.equal(forged, 403);
    const queues = await api.call('GET', '/v1/queues');
    assert.ok(
      !queues.body.queues.some(
        (q: { name: string; paused: boolean }) => q.name === 'lane' && q.paused,
      ),
    );
  });

  test('pause a queue, enqueue from the generated form, watch the job go from queued to succeeded', async () => {
    const first = await api.call('POST', '/v1/jobs', { task: 'slow', payload: { steps: 0 } });
    assert.equal(
      (await api.call('GET', `/v1/jobs/${first.body.id}?wait=10s`)).body.state,
      'succeeded',
    );
    await page.goto(`${api.url}/#/`);
    await page.getByRole('button', { name: 'Pause queue lane' }).click();
    await page.getByRole('button', { name: 'Resume queue lane' }).waitFor();
    assert.ok(
      (await api.call('GET', '/v1/queues')).body.queues.find(
        (q: { name: string }) => q.name === 'lane',
      ).paused,
    );

    await page.getByLabel('Task').selectOption('slow');
    await page.getByLabel('steps (required)').fill('oops');
    await page.getByRole('button', { name: 'Enqueue' }).click();
    await page.locator('.field .error').first().waitFor();
    const total = async () =>
      Object.values(
        (await api.call('GET', '/v1/queues')).body.queues.find(
          (q: { name: string }) => q.name === 'lane',
        ).counts as Record<string, number>,
      ).reduce((a, b) => a + b, 0);
    assert.equal(await total(), 1, 'the wrongly typed form created no job');

    await page.getByLabel('steps (required)').fill('4');
    await page.getByRole('button', { name: 'Enqueue' }).click();
    const link = page.getByRole('link', { name: /Open job \d+/ });
    await link.waitFor();
    const id = (await link.textContent())!.match(/\d+/)![0];
    await link.click();
    await page.getByTestId('job-state').filter({ hasText: 'queued' }).waitFor();

    await page.goto(`${api.url}/#/`);
    await page.getByRole('button', { name: 'Resume queue lane' }).click();
    await page.getByRole('button', { name: 'Pause queue lane' }).waitFor();
    await page.goto(`${api.url}/#/jobs/${id}`);
    await page
      .getByTestId('job-state')
      .filter({ hasText: 'succeeded' })
      .waitFor({ timeout: 20_000 });
    assert.equal(await jobState(id), 'succeeded');
    assert.equal(await page.locator('progress').getAttribute('value'), '100');
  });

  test('retry a failed job and cancel a running one from their pages', async () => {
    const failing = await api.call('POST', '/v1/jobs', { task: 'flaky-once', payload: {} });
    assert.equal(
      (await api.call('GET', `/v1/jobs/${failing.body.id}?wait=10s`)).body.state,
      'failed',
    );
    await page.goto(`${api.url}/#/jobs/${failing.body.id}`);
    await page.getByText('fails the first time').first().waitFor();
    assert.match(
      (await page.getByTestId('job-attempt-error').allTextContents()).join('\n'),
      /^Attempt 1 failed .+: fails the first time$/,
    );
    await page.getByRole('button', { name: 'Retry' }).click();
    await page
      .getByTestId('job-state')
      .filter({ hasText: 'succeeded' })
      .waitFor({ timeout: 20_000 });
    assert.equal(await jobState(failing.body.id), 'succeeded');
    await page.getByTestId('job-attempt-error').first().waitFor();
    assert.equal(
      await page.getByTestId('job-attempt-error').count(),
      1,
      'the failure history outlives the retry',
    );

    const long = await api.call('POST', '/v1/jobs', { task: 'slow', payload: { steps: 200 } });
    await page.goto(`${api.url}/#/jobs/${long.body.id}`);
    await page
      .getByTestId('job-state')
      .filter({ hasText: /queued|running/ })
      .waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('job-state').filter({ hasText: 'cancelled' }).waitFor();
    assert.equal(await jobState(long.body.id), 'cancelled');
  });

  test('the jobs view filters by state, and a missing job shows a clear message', async () => {
    await page.goto(`${api.url}/#/jobs?state=cancelled`);
    await page.locator('tr[data-job]').first().waitFor();
    const states = await page.locator('tr[data-job] .state').allTextContents();
    assert.ok(states.length >= 1 && states.every((s) => s === 'cancelled'), states.join());
    await page.goto(`${api.url}/#/jobs/987654`);
    await page.getByRole('alert').filter({ hasText: 'No job has id 987654' }).waitFor();
  });

  test("a job's page shows where it ran and why, and a process run's output tail", async () => {
    const inChild = await api.call('POST', '/v1/jobs', { task: 'isolated', payload: null });
    const child = (await api.call('GET', `/v1/jobs/${inChild.body.id}?wait=30s`)).body;
    assert.equal(child.state, 'succeeded', JSON.stringify(child.error));
    assert.equal(child.placement, 'process: isolate: true');
    assert.match(child.outputTail, /isolated run in \d+\n/);
    const auto = await api.call('POST', '/v1/jobs', { task: 'auto-tiny', payload: { a: 1, b: 2 } });
    const ran = (await api.call('GET', `/v1/jobs/${auto.body.id}?wait=10s`)).body;
    assert.equal(ran.state, 'succeeded');
    assert.match(ran.placement, /^inline: auto: /);
    assert.equal(ran.outputTail, null);

    await page.goto(`${api.url}/#/jobs/${inChild.body.id}`);
    await page.getByTestId('job-mode').filter({ hasText: 'process: isolate: true' }).waitFor();
    await page.getByRole('heading', { name: 'Output (tail)' }).waitFor();
    const shown = (await page.getByTestId('job-output').textContent())!;
    assert.match(shown, /isolated run in \d+/);
    assert.match(shown, /a warning on stderr/);
    await page.goto(`${api.url}/#/jobs/${auto.body.id}`);
    await page
      .getByTestId('job-mode')
      .filter({ hasText: /^inline: auto: / })
      .waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Output (tail)' }).count(), 0);
  });

  test('the workers view lists the worker with its modes, queues and heartbeat', async () => {
    await page.goto(`${api.url}/#/workers`);
    const row = page.locator(`tr[data-worker="${api.worker!.id}"]`);
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    assert.match(text, /inline/);
    assert.match(text, /lane/);
    assert.match(text, new RegExp(String(process.pid)));
  });

  test('the modes view shows the switching costs measured on this machine, with the chart', async () => {
    await page.goto(`${api.url}/#/modes`);
    await page.locator('tr[data-row="thread-postmessage-any"], tr[data-row]').first().waitFor();
    const rows = await page.locator('tr[data-row]').count();
    assert.ok(rows >= 10, `expected the measured rows, got ${rows}`);
    const chart = page.getByRole('img', { name: /switching costs/ });
    await chart.waitFor();
    assert.ok(
      await chart.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth > 0),
      'the chart image loaded',
    );
    assert.match(
      (await page.locator('tr[data-row]').first().textContent()) ?? '',
      /\d+(\.\d+)? (ns|µs|ms)/,
    );
  });

  test('a flood of 5 000 jobs (15 000 events) leaves the page without a long task over 100 ms', async () => {
    await page.goto(`${api.url}/#/`);
    await page.getByText(/events\/s/).waitFor();
    await sleep(500);
    await page.evaluate(
      () => ((globalThis as unknown as { __longTasks: number[] }).__longTasks.length = 0),
    );
    for (let batch = 0; batch < 5; batch++) {
      const jobs = Array.from({ length: 1000 }, () => ({ task: 'noop', payload: null }));
      assert.equal((await api.call('POST', '/v1/jobs/batch', { jobs })).status, 202);
    }
    const deadline = Date.now() + 120_000;
    while ((await api.queue.countJobs({ queue: 'flood' })).succeeded < 5000) {
      if (Date.now() > deadline) throw new Error('the flood did not drain');
      await sleep(200);
    }
    await sleep(1000);
    const longTasks = await page.evaluate(
      () => (globalThis as unknown as { __longTasks: number[] }).__longTasks,
    );
    const seen = (await page.locator('.summary').textContent()) ?? '';
    assert.match(seen, /over [1-9]\d* runs/, 'the page counted the flood');
    assert.ok(
      longTasks.every((ms) => ms <= 100),
      `long tasks during the flood: ${longTasks.map((ms) => Math.round(ms)).join(', ')} ms`,
    );
    const flood = (await api.call('GET', '/v1/queues')).body.queues.find(
      (q: { name: string }) => q.name === 'flood',
    );
    await page
      .locator('tr[data-queue="flood"] td')
      .nth(JOB_STATES.indexOf('succeeded'))
      .filter({ hasText: String(flood.counts.succeeded) })
      .waitFor();
  });

  test('a session that ends under the page sends it back to the login form with a message', async () => {
    const second = await browser.newPage();
    await second.goto(api.server.loginLink());
    await second.getByRole('heading', { name: 'Overview' }).waitFor();
    const csrf = await second.evaluate(
      async () => ((await (await fetch('/v1/session')).json()) as { csrfToken: string }).csrfToken,
    );
    await second.evaluate(
      async (token) =>
        void (await fetch('/v1/session/logout', {
          method: 'POST',
          headers: { 'x-csrf-token': token },
        })),
      csrf,
    );
    await second.evaluate(
      () => ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/jobs'),
    );
    await second.getByLabel('API token').waitFor();
    await second
      .getByRole('alert')
      .filter({ hasText: /needs a token|session/ })
      .waitFor();
    await second.close();
  });

  test('no errors were thrown in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
