import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../tools/chromium.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { failJobs } from '../helpers/failed-jobs.ts';

/** Bulk actions and the dead-letter view in Chromium, over a real server on SQLite. */
describe('dashboard: bulk actions and dead letters in Chromium', () => {
  let api: ApiHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const posts: string[] = [];

  before(async () => {
    api = await startApi([], { worker: false });
    await failJobs(api.store, { n: 120, task: 'sync' });
    await failJobs(api.store, {
      n: 4,
      task: 'mail',
      error: { name: 'Error', message: 'SMTP 421 try later', code: 'E_SMTP' },
    });
    await failJobs(api.store, {
      n: 2,
      task: 'mail',
      error: { name: 'Error', message: 'bad address' },
    });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
    });
    await page.goto(api.server.loginLink());
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await api?.close();
  });

  const status = () => page.getByRole('status');

  test('"Retry all failed" sends one bulk request and reports the jobs retried', async () => {
    await page.goto(`${api.url}/#/jobs?state=failed&task=sync`);
    await page.locator('tr[data-job]').first().waitFor();
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Retry all failed' }).click();
    assert.equal((await api.queue.countJobs({ task: 'sync' })).failed, 120, 'dismissed: nothing');
    assert.deepEqual(posts, []);

    page.once('dialog', (dialog) => {
      assert.match(dialog.message(), /Retry every job matching these filters/);
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Retry all failed' }).click();
    await status().filter({ hasText: 'Retried 120 job(s).' }).waitFor();
    assert.deepEqual(posts, ['/v1/jobs/bulk'], 'one request, not one per job');
    const counts = await api.queue.countJobs({ task: 'sync' });
    assert.equal(counts.queued, 120);
    assert.equal(counts.failed, 0);
  });

  test('the dead-letter view groups failures and redrives one group', async () => {
    posts.length = 0;
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    const rows = page.getByTestId('dead-letter');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2);
    const smtp = page.locator('[data-testid="dead-letter"][data-code="E_SMTP"]');
    assert.match((await smtp.textContent())!, /mailE_SMTP SMTP 421 try later4/);
    page.once('dialog', (dialog) => void dialog.accept());
    await smtp.getByRole('button', { name: 'Redrive' }).click();
    await status().filter({ hasText: 'Retried 4 job(s).' }).waitFor();
    await smtp.waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 1);
    assert.deepEqual(posts, ['/v1/jobs/bulk']);
    const counts = await api.queue.countJobs({ task: 'mail' });
    assert.equal(counts.queued, 4);
    assert.equal(counts.failed, 2);
    assert.deepEqual(pageErrors, []);
  });
});
