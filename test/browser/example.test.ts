/** The demo of examples/browser-pool, built and served as `npm run example:browser` does, driven in Chromium. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDemo } from '../../examples/browser-pool/serve.ts';
import { launchChromium } from '../../tools/chromium.ts';
import type { StaticServer } from '../../tools/static-server.ts';

let browser: Browser;
let demo: StaticServer;
before(async () => {
  browser = await launchChromium();
  demo = await startDemo(0);
});
after(async () => {
  await browser?.close();
  await demo?.close();
});

it('renders in the pool and on the main thread, and shows the longest frame time of each', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${demo.url}/`);
  assert.equal(await page.evaluate('crossOriginIsolated'), true);
  const longest: Record<string, number> = {};
  for (const where of ['pool', 'main'] as const) {
    await page.check(`input[value=${where}]`);
    await page.click('#render');
    await page.waitForFunction(
      `document.querySelector('#status').textContent.startsWith('done')`,
      undefined,
      { timeout: 60_000 },
    );
    longest[where] = Number(await page.textContent('#longest'));
    // Page code as a string: this file is type-checked for Node, without the DOM's types.
    const lit = await page.evaluate(
      `document.querySelector('#picture').getContext('2d').getImageData(0, 0, 800, 600).data.some((value, i) => i % 4 !== 3 && value > 0)`,
    );
    assert.ok(lit, `${where}: the picture was drawn`);
  }
  assert.ok(
    longest.main! > longest.pool!,
    `frame gaps: main ${longest.main} ms, pool ${longest.pool} ms`,
  );
  assert.deepEqual(errors, []);
});
