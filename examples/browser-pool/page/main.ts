/**
 * The demo page: renders the Mandelbrot set on this thread or in the pool while a spinner and a
 * frame-time meter show whether the page keeps painting.
 */
import { createPool } from 'offload/browser';
import type { TaskContext } from 'offload/task';
import { mandelbrot, type MandelbrotView } from '../tasks.ts';

const VIEW: MandelbrotView = { width: 800, height: 600, maxIterations: 3000 };
const pool = createPool({ module: new URL('./worker.js', import.meta.url) });
const workers = Math.max(1, navigator.hardwareConcurrency - 1);

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const picture = element<HTMLCanvasElement>('picture').getContext('2d')!;
const meter = element<HTMLCanvasElement>('meter').getContext('2d')!;
const status = element<HTMLOutputElement>('status');
const button = element<HTMLButtonElement>('render');

/** Frame times, newest last, and the longest one since the current render began. */
const frames: number[] = [];
let longest = 0;
let previous = performance.now();

function onFrame(now: number): void {
  const gap = now - previous;
  previous = now;
  frames.push(gap);
  if (frames.length > 200) frames.shift();
  longest = Math.max(longest, gap);
  element('spinner').style.transform = `rotate(${(now / 5) % 360}deg)`;
  element('last').textContent = gap.toFixed(1);
  drawMeter();
  requestAnimationFrame(onFrame);
}

function drawMeter(): void {
  const { width, height } = meter.canvas;
  meter.clearRect(0, 0, width, height);
  const scale = height / 200;
  frames.forEach((gap, i) => {
    meter.fillStyle = gap > 50 ? '#d33' : '#3a3';
    meter.fillRect(i * 4, height - Math.min(height, gap * scale), 3, Math.min(height, gap * scale));
  });
  meter.fillStyle = '#888';
  meter.fillRect(0, height - 50 * scale, width, 1);
}

function paint(pixels: Uint8ClampedArray, top: number, rows: number): void {
  picture.putImageData(
    new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, VIEW.width, rows),
    0,
    top,
  );
}

async function render(where: 'main' | 'pool'): Promise<void> {
  button.disabled = true;
  status.textContent = `rendering on the ${where === 'pool' ? `pool (${workers} workers)` : 'main thread'}…`;
  picture.clearRect(0, 0, VIEW.width, VIEW.height);
  await new Promise(requestAnimationFrame);
  longest = 0;
  const started = performance.now();
  if (where === 'main') {
    paint(mandelbrot.run(VIEW, {} as TaskContext) as Uint8ClampedArray, 0, VIEW.height);
  } else {
    const rows = Math.ceil(VIEW.height / (workers * 4));
    const bands = Array.from({ length: Math.ceil(VIEW.height / rows) }, (_, i) => i * rows);
    await Promise.all(
      bands.map(async (top) => {
        const band = Math.min(rows, VIEW.height - top);
        paint(await pool.run(mandelbrot, { ...VIEW, top, rows: band }), top, band);
      }),
    );
  }
  const took = performance.now() - started;
  await new Promise(requestAnimationFrame);
  element('longest').textContent = longest.toFixed(1);
  status.textContent = `done in ${took.toFixed(0)} ms`;
  button.disabled = false;
}

button.addEventListener('click', () => {
  const where = (document.querySelector('input[name=where]:checked') as HTMLInputElement).value as
    'main' | 'pool';
  void render(where);
});
requestAnimationFrame(onFrame);
