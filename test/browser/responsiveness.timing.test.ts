/**
 * The point of offload/browser: the same heavy render on the page's own thread freezes its
 * animation frames, and in the pool it does not. Bounds are generous (the targets are
 * > 500 ms and < 50 ms); `npm run bench:browser` records the real numbers in bench/RESULTS.md.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { call, HEAVY_VIEW, openTestSite, type FrameGaps, type TestSite } from './browser-page.ts';

let site: TestSite;
before(async () => {
  site = await openTestSite();
});
after(() => site?.close());

it('the longest gap between animation frames: over 300 ms on the main thread, under 150 ms with the pool', async () => {
  const page = await site.open();
  const main = await call<FrameGaps>(page, 'frameGaps', 'main', HEAVY_VIEW);
  const pool = await call<FrameGaps>(page, 'frameGaps', 'pool', HEAVY_VIEW);
  assert.ok(
    main.longestGapMs > 300,
    `main thread: longest frame gap ${main.longestGapMs.toFixed(1)} ms over a ${main.jobMs.toFixed(0)} ms job`,
  );
  assert.ok(
    pool.longestGapMs < 150,
    `pool: longest frame gap ${pool.longestGapMs.toFixed(1)} ms over a ${pool.jobMs.toFixed(0)} ms job`,
  );
  assert.ok(pool.frames > main.frames, 'frames kept coming while the pool worked');
});
