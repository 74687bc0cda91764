import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { EnqueueParams } from '../../src/store/contract.ts';
import { launchChromium } from '../../tools/chromium.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

/** The job page's Run now, Reschedule and Remove in Chromium, over a real server on SQLite. */
describe('dashboard: reschedule and remove a job in Chromium', () => {
  let api: ApiHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const job = (queue: string, runAt: number): EnqueueParams => ({
    task: 'report',
    queue,
    payload: '{"pages":1}',
    priority: 0,
    runAt,
    maxAttempts: 3,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
  });
  const open = async (id: string) => {
    await page.goto(`${api.url}/#/jobs/${id}`);
    await page.getByRole('heading', { name: new RegExp(`^Job ${id}`) }).waitFor();
  };
  const state = () => page.getByTestId('job-state').textContent();

  before(async () => {
    api = await startApi([], { worker: false });
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

  test('Run now makes a scheduled job due, and the store has its new run-at', async () => {
    const { job: scheduled } = await api.store.jobEnqueue(job('dash', Date.now() + 3_600_000));
    await open(scheduled.id);
    assert.equal(await state(), 'scheduled');
    const before = Date.now();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('status').filter({ hasText: 'Due now.' }).waitFor();
    assert.equal(await state(), 'queued');
    const read = await api.store.jobGet({ id: scheduled.id });
    assert.ok(read!.runAt >= before - 1000 && read!.runAt <= Date.now(), String(read?.runAt));
    assert.equal(await page.getByRole('button', { name: 'Run now' }).isDisabled(), true);
  });

  test('Reschedule sets the run-at picked in the form', async () => {
    const { job: queued } = await api.store.jobEnqueue(job('dash', Date.now()));
    await open(queued.id);
    await page.getByLabel('Run at').fill('2031-05-06T07:08');
    await page.getByRole('button', { name: 'Reschedule' }).click();
    await page.getByRole('status').filter({ hasText: 'Rescheduled to' }).waitFor();
    assert.equal(await state(), 'scheduled');
    const expected = await page.evaluate(() => new Date('2031-05-06T07:08').getTime());
    assert.equal((await api.store.jobGet({ id: queued.id }))?.runAt, expected);
  });

  test('Remove asks once, then deletes the job; a running job cannot be removed', async () => {
    const { job: waiting } = await api.store.jobEnqueue(job('dash', Date.now() + 60_000));
    await open(waiting.id);
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByRole('button', { name: 'Keep' }).click();
    assert.ok(await api.store.jobGet({ id: waiting.id }), 'kept');
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByRole('button', { name: 'Remove for good' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Removed job ${waiting.id}` })
      .waitFor();
    assert.equal(await api.store.jobGet({ id: waiting.id }), undefined);

    const { job: running } = await api.store.jobEnqueue(job('dash-running', Date.now() - 1));
    await api.store.jobClaim({
      workerId: 'w',
      queues: [{ name: 'dash-running', limit: 1 }],
      tasks: ['report'],
      leaseMs: 600_000,
    });
    await open(running.id);
    assert.equal(await state(), 'running');
    assert.equal(
      await page.getByRole('button', { name: 'Remove', exact: true }).isDisabled(),
      true,
    );
    assert.equal(await page.getByRole('button', { name: 'Reschedule' }).isDisabled(), true);
    assert.deepEqual(pageErrors, []);
  });
});
