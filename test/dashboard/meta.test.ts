import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../tools/chromium.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });

/** Tags in the jobs list and its tag filter, meta and tags on the job page, bulk by tag: Chromium over a real server. */
describe('dashboard: job meta and tags in Chromium', () => {
  let api: ApiHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const ids = { vip: '', eu: '', plain: '' };

  before(async () => {
    api = await startApi([echo], { worker: false });
    ids.vip = (
      await api.queue.enqueue(echo, 1, {
        tags: ['vip', 'eu'],
        meta: { requestId: 'req-42' },
        delay: 60_000,
      })
    ).id;
    ids.eu = (await api.queue.enqueue(echo, 2, { tags: ['eu'], delay: 60_000 })).id;
    ids.plain = (await api.queue.enqueue(echo, 3, { delay: 60_000 })).id;
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(api.server.loginLink());
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await api?.close();
  });

  const rows = () => page.locator('tr[data-job]');
  const shownIds = async () => {
    const shown: Array<string | null> = [];
    for (let i = 0; i < (await rows().count()); i++)
      shown.push(await rows().nth(i).getAttribute('data-job'));
    return shown;
  };

  test('the jobs list shows tags; the tag filter and a click on a tag narrow it', async () => {
    await page.goto(`${api.url}/#/jobs`);
    await page.locator(`tr[data-job="${ids.plain}"]`).waitFor();
    const vipRow = page.locator(`tr[data-job="${ids.vip}"]`);
    assert.deepEqual(await vipRow.locator('.tag').allTextContents(), ['vip', 'eu']);
    assert.equal(await page.locator(`tr[data-job="${ids.plain}"] .tag`).count(), 0);

    await page.getByLabel('Tag', { exact: true }).fill('eu');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.waitForFunction("location.hash === '#/jobs?tag=eu'");
    await page.locator(`tr[data-job="${ids.plain}"]`).waitFor({ state: 'detached' });
    assert.deepEqual(await shownIds(), [ids.eu, ids.vip]);

    await vipRow.getByRole('link', { name: 'vip' }).click();
    await page.waitForFunction("location.hash === '#/jobs?tag=vip'");
    await page.locator(`tr[data-job="${ids.eu}"]`).waitFor({ state: 'detached' });
    assert.deepEqual(await shownIds(), [ids.vip]);
    assert.equal(await page.getByLabel('Tag', { exact: true }).inputValue(), 'vip');
  });

  test('the job page shows its tags and meta', async () => {
    await page.goto(`${api.url}/#/jobs/${ids.vip}`);
    await page.getByTestId('job-tags').waitFor();
    assert.deepEqual(await page.getByTestId('job-tags').locator('.tag').allTextContents(), [
      'vip',
      'eu',
    ]);
    assert.deepEqual(JSON.parse(await page.getByTestId('job-meta').innerText()), {
      requestId: 'req-42',
    });
    await page.goto(`${api.url}/#/jobs/${ids.plain}`);
    await page.getByTestId('job-tags').filter({ hasText: '–' }).waitFor();
    assert.equal(await page.getByTestId('job-meta').count(), 0, 'no meta section without meta');
  });

  test('"Cancel all matching" under a tag filter cancels only the tagged jobs', async () => {
    await page.goto(`${api.url}/#/jobs?tag=eu`);
    await page.locator(`tr[data-job="${ids.eu}"]`).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Cancel all matching' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Cancelled 2 job/ })
      .waitFor();
    assert.equal((await api.queue.getJob(ids.vip))?.state, 'cancelled');
    assert.equal((await api.queue.getJob(ids.eu))?.state, 'cancelled');
    assert.equal((await api.queue.getJob(ids.plain))?.state, 'scheduled');
    assert.deepEqual(pageErrors, []);
  });
});
