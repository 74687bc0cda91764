/**
 * A task module that runs in both worlds: Node's thread pool loads it by path, and the browser
 * pool's worker (page/worker.ts) imports it and calls `serve`. It imports `offload/task`, which has
 * no Node.js built-ins, and its tasks use only the language itself.
 */
import { defineTask } from 'offload/task';

/** Which part of the Mandelbrot set to draw, and how finely. */
export interface MandelbrotView {
  width: number;
  height: number;
  /** Rows `[top, top + rows)` of the image to render. Default: all of them. */
  top?: number;
  rows?: number;
  /** Iterations before a point counts as inside the set. */
  maxIterations: number;
  /** The centre of the picture and the width of the plane it shows. */
  centreX?: number;
  centreY?: number;
  span?: number;
}

/** Renders rows of the Mandelbrot set as RGBA pixels: pure CPU work, seconds of it at high iteration counts. */
export const mandelbrot = defineTask({
  name: 'mandelbrot',
  mode: 'thread',
  run: (view: MandelbrotView): Uint8ClampedArray => {
    const {
      width,
      height,
      maxIterations,
      top = 0,
      rows = height - top,
      centreX = -0.5,
      centreY = 0,
      span = 3,
    } = view;
    const pixels = new Uint8ClampedArray(width * rows * 4);
    const step = span / width;
    for (let row = 0; row < rows; row++) {
      const ci = centreY + (top + row - height / 2) * step;
      for (let column = 0; column < width; column++) {
        const cr = centreX + (column - width / 2) * step;
        const n = escapeTime(cr, ci, maxIterations);
        const at = (row * width + column) * 4;
        const shade = n === maxIterations ? 0 : 255 * Math.sqrt(n / maxIterations);
        pixels[at] = shade * 0.4;
        pixels[at + 1] = shade * 0.7;
        pixels[at + 2] = shade;
        pixels[at + 3] = 255;
      }
    }
    return pixels;
  },
});

function escapeTime(cr: number, ci: number, maxIterations: number): number {
  let zr = 0;
  let zi = 0;
  let n = 0;
  while (n < maxIterations && zr * zr + zi * zi <= 4) {
    const next = zr * zr - zi * zi + cr;
    zi = 2 * zr * zi + ci;
    zr = next;
    n++;
  }
  return n;
}

/** A checksum of bytes, so a Node test and a browser test can compare renders cheaply. */
export const checksum = defineTask({
  name: 'checksum',
  run: (bytes: Uint8Array | Uint8ClampedArray): number => {
    let hash = 2166136261;
    for (const byte of bytes) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
    return hash;
  },
});
