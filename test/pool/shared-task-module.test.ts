/**
 * One task module for Node and browsers: examples/browser-pool/tasks.ts, which the browser tests
 * also serve from a Web Worker, runs unchanged in Node's thread pool.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
// Task handles from `offload/task` (the built package) are used by name with this source pool.
import { checksum, mandelbrot } from '../../examples/browser-pool/tasks.ts';
import { createPool } from '../../src/pool/pool.ts';
import type { TaskContext } from '../../src/task/task.ts';

const pool = createPool({
  mode: 'thread',
  module: fileURLToPath(new URL('../../examples/browser-pool/tasks.ts', import.meta.url)),
  maxWorkers: 2,
  forwardOutput: false,
});
after(() => pool.destroy());

it('the browser example task module runs in Node threads, with the same results as in-process', async () => {
  const view = { width: 64, height: 48, maxIterations: 200 };
  const ctx = {} as TaskContext;
  const pixels = await pool.run<Uint8ClampedArray>(mandelbrot.name, view);
  assert.ok(pixels instanceof Uint8ClampedArray);
  assert.equal(
    await pool.run(checksum.name, pixels),
    checksum.run(mandelbrot.run(view, ctx) as Uint8ClampedArray, ctx),
  );
  const bands = await Promise.all(
    [0, 24].map((top) => pool.run<Uint8ClampedArray>(mandelbrot.name, { ...view, top, rows: 24 })),
  );
  assert.deepEqual(new Uint8ClampedArray([...bands[0]!, ...bands[1]!]), pixels);
});
