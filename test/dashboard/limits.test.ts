import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { ClaimedJob } from '../../src/core/job.ts';
import type { EnqueueParams } from '../../src/store/contract.ts';
import { launchChromium } from '../../tools/chromium.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

/** The overview's flow control in Chromium: limits, running per key, tokens, holds, over a real server on SQLite. */
describe('dashboard: queue limits in Chromium', () => {
  let api: ApiHarness;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const job = (queue: string, key: string | null): EnqueueParams => ({
    task: 'report',
    queue,
    payload: '{}',
    priority: 0,
    runAt: Date.now() - 1,
    maxAttempts: 3,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
    key,
  });
  const claim = (queue: string) =>
    api.store.jobClaim({
      workerId: 'w',
      queues: [{ name: queue, limit: 10 }],
      tasks: ['report'],
      leaseMs: 600_000,
    });
  /** Sends a claimed job back with `ctx.rateLimited`: its key (its queue, unkeyed) holds for ten minutes. */
  const rateLimited = (claimed: ClaimedJob) =>
    api.store.jobRecordOutcomes([
      {
        kind: 'rateLimited',
        lease: { id: claimed.id, workerId: 'w', attempt: claimed.attempts, fence: claimed.fence },
        runAt: Date.now() + 600_000,
      },
    ]);
  const card = (queue: string) =>
    page.locator(`[data-testid="queue-limits"][data-queue="${queue}"]`);
  const fact = (queue: string, name: string) => card(queue).getByTestId(name).textContent();

  before(async () => {
    api = await startApi([], { worker: false });
    await api.queue.setLimits('tenants', {
      concurrency: 3,
      keyConcurrency: 1,
      keyOverrides: { acme: 2 },
      rate: { limit: 50, per: '1h' },
      keyRate: { limit: 10, per: '1h' },
    });
    for (const key of ['acme', 'acme', 'acme', 'globex'])
      await api.store.jobEnqueue(job('tenants', key));
    const tenants = await claim('tenants');
    assert.equal(tenants.length, 3);
    await rateLimited(tenants.find((each) => each.key === 'globex')!);

    await api.queue.setLimits('held', { concurrency: 5 });
    await api.store.jobEnqueue(job('held', null));
    await rateLimited((await claim('held'))[0]!);

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

  test('each limited queue shows its limits, what runs of them, the tokens left and what is held back', async () => {
    await card('tenants').waitFor();
    const state = (await api.call('GET', '/v1/queues/tenants/limits')).body;
    assert.equal(state.running, 2);
    assert.equal(state.heldBack, 1, 'the third acme job; globex waits for its run-at');
    assert.match(
      (await fact('tenants', 'limits-applied'))!,
      /^3 at once · 1 per key \(acme 2\) · rate 50 per h · key rate 10 per h set at runtime$/,
    );
    assert.equal(await fact('tenants', 'limits-running'), '2 of 3');
    assert.equal(await fact('tenants', 'limits-tokens'), `${state.tokens.left} of 50 left`);
    assert.equal(await fact('tenants', 'limits-held-until'), '–');
    assert.equal(await fact('tenants', 'limits-held-back'), '1 due job');
    const summary = page.locator('tr[data-queue="tenants"] [data-testid="queue-limits-summary"]');
    assert.match((await summary.textContent())!, /^3 at once · 1 per key \(acme 2\)/);
    assert.equal(
      await page.locator('tr[data-queue="plain"] [data-testid="queue-limits-summary"]').count(),
      0,
    );
  });

  test('the busiest keys show running of their limit, their tokens and a key held by ctx.rateLimited', async () => {
    const acme = card('tenants').locator('tr[data-key="acme"]');
    assert.deepEqual((await acme.locator('th, td').allTextContents()).slice(0, 2), [
      'acme',
      '2 of 2',
    ]);
    assert.match((await acme.locator('td').nth(1).textContent())!, /^8 of 10 left$/);
    const globex = card('tenants').locator('tr[data-key="globex"]');
    assert.match((await globex.locator('td').nth(0).textContent())!, /^0 of 1$/);
    assert.match((await globex.locator('td').nth(2).textContent())!, /\(in (9|10) min\)$/);
  });

  test('a queue held whole by ctx.rateLimited shows until when', async () => {
    await card('held').waitFor();
    assert.match(
      (await fact('held', 'limits-held-until'))!,
      /^\d{1,2}:\d{2}:\d{2}.*\(in (9|10) min\)$/,
    );
    assert.equal(await fact('held', 'limits-running'), '0 of 5');
    assert.equal(await fact('held', 'limits-tokens'), '–');
  });

  test('clearing the runtime limits takes the queue off the page as the store changes', async () => {
    assert.equal((await api.call('DELETE', '/v1/queues/tenants/limits')).status, 204);
    await card('tenants').waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await card('held').count(), 1);
    assert.deepEqual(pageErrors, []);
  });
});
