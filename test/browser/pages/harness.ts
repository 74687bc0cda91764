/**
 * The page side of the browser tests: each function drives a real pool and returns plain data (the
 * outcome of a run, stats, frame gaps) for the Node side to assert on.
 */
import {
  createPool,
  type BrowserPool,
  type BrowserPoolOptions,
  type BrowserRunOptions,
} from 'offload/browser';
import type { TaskContext } from 'offload/task';
import { checksum, mandelbrot, type MandelbrotView } from '../../../examples/browser-pool/tasks.ts';

export type Outcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      name: string;
      message: string;
      code: unknown;
      stack: string | undefined;
      extra: unknown;
      details: unknown;
    };

const settle = (promise: Promise<unknown>): Promise<Outcome> =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error: Error & { code?: unknown; extra?: unknown; details?: unknown }) => ({
      ok: false,
      name: error.name,
      message: error.message,
      code: error.code,
      stack: error.stack,
      extra: error.extra,
      details: JSON.parse(JSON.stringify(error.details ?? null)) as unknown,
    }),
  );

/** Counts Web Workers made and terminated on this page, to catch leaks. */
const workers = { created: 0, terminated: 0 };
const NativeWorker = globalThis.Worker;
globalThis.Worker = class CountedWorker extends NativeWorker {
  constructor(url: string | URL, options?: WorkerOptions) {
    super(url, options);
    workers.created++;
  }
  override terminate(): void {
    workers.terminated++;
    super.terminate();
  }
};

const pools = new Map<number, BrowserPool>();
let nextPool = 1;
const pool = (id: number) => pools.get(id)!;
const here = (file: string) => new URL(file, import.meta.url).href;
const frame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

const harness = {
  workers: () => ({ ...workers }),
  crossOriginIsolated: () => globalThis.crossOriginIsolated,

  /** Makes a pool of `worker` (a file beside this page, default the fixtures' worker). */
  create(options: Partial<BrowserPoolOptions> & { worker?: string } = {}): number {
    const { worker = 'tasks-worker.js', ...rest } = options;
    const id = nextPool++;
    pools.set(id, createPool({ module: here(worker), ...rest }));
    return id;
  },
  createWith: (options: unknown) =>
    settle(Promise.resolve().then(() => createPool(options as BrowserPoolOptions))).then(
      (outcome) => (outcome.ok ? { ok: true } : outcome),
    ),
  run: (id: number, task: string, payload?: unknown, options?: { timeout?: number }) =>
    settle(pool(id).run(task, payload, options)),
  runMany: (id: number, task: string, payloads: unknown[]) =>
    Promise.all(payloads.map((payload) => settle(pool(id).run(task, payload)))),
  ready: (id: number) => settle(pool(id).ready()),
  stats: (id: number) => pool(id).stats(),
  close: (id: number) => pool(id).close(),
  destroy: (id: number) => pool(id).destroy(),

  /** Starts a task, and aborts its signal after `afterMs`. */
  async cancel(id: number, task: string, payload: unknown, afterMs: number) {
    const controller = new AbortController();
    const outcome = settle(pool(id).run(task, payload, { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error('user gave up')), afterMs);
    return outcome;
  },

  async closeWhileRunning(id: number) {
    const outcomes = Promise.all([
      settle(pool(id).run('wait', 50)),
      settle(pool(id).run('wait', 60)),
    ]);
    const closed = pool(id).close();
    const late = await settle(pool(id).run('echo', 1));
    await closed;
    return { outcomes: await outcomes, late };
  },

  async readyThenClose(id: number) {
    const ready = settle(pool(id).ready());
    await pool(id).close();
    return ready;
  },

  async destroyWhileRunning(id: number) {
    const outcomes = Promise.all([
      settle(pool(id).run('wait', 10_000)),
      settle(pool(id).run('wait', 10_000)),
      settle(pool(id).run('wait', 10_000)),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pool(id).destroy();
    return outcomes;
  },

  async transfer(id: number, bytes: number) {
    const buffer = new Uint8Array(bytes).fill(1).buffer;
    const run: BrowserRunOptions = { transfer: [buffer] };
    const outcome = await settle(pool(id).run('sumBytes', buffer, run));
    return {
      outcome,
      byteLengthAfter: buffer.byteLength,
      detached: (buffer as ArrayBuffer & { detached?: boolean }).detached,
    };
  },

  async shared(id: number) {
    const buffer = new SharedArrayBuffer(4);
    const outcome = await settle(pool(id).run('sharedWrite', buffer));
    return { outcome, seen: new Int32Array(buffer)[0] };
  },

  async progress(id: number) {
    const seen: unknown[] = [];
    const outcome = await settle(
      pool(id).run('progress', 3, { onProgress: (value) => seen.push(value) }),
    );
    return { outcome, seen };
  },

  async destructures(id: number) {
    const seen: unknown[] = [];
    const outcome = await settle(
      pool(id).run('destructures', 3, { onProgress: (value) => seen.push(value) }),
    );
    return { outcome, seen };
  },

  /** Runs a task that holds its worker's thread; each progress value with how long before the result it arrived (ms). */
  async busyProgress(id: number, payload: { ms: number; every: number }) {
    const arrivals: Array<{ value: unknown; at: number }> = [];
    const outcome = await settle(
      pool(id).run('busyProgress', payload, {
        onProgress: (value) => arrivals.push({ value, at: performance.now() }),
      }),
    );
    const end = performance.now();
    return { outcome, seen: arrivals.map(({ value, at }) => ({ value, before: end - at })) };
  },

  uncloneable: (id: number) => settle(pool(id).run('echo', { callback: () => 1 })),

  /** Renders in the pool and on this thread; both checksums, to compare with Node's. */
  async render(id: number, view: MandelbrotView) {
    const ctx = {} as TaskContext;
    const pixels = await pool(id).run(mandelbrot, view);
    return {
      pool: checksum.run(pixels, ctx),
      page: checksum.run(mandelbrot.run(view, ctx) as Uint8ClampedArray, ctx),
    };
  },

  /**
   * Runs the same heavy render on this page's thread or in a one-worker pool while animation frames
   * are counted, and returns the longest gap between two frames, from the job's start to its end.
   */
  async frameGaps(where: 'main' | 'pool', view: MandelbrotView) {
    const workerPool =
      where === 'pool'
        ? createPool({ module: here('tasks-worker.js'), minWorkers: 1, maxWorkers: 1 })
        : undefined;
    await workerPool?.ready();
    const stamps: number[] = [];
    let counting = true;
    const tick = (): void => {
      stamps.push(performance.now());
      if (counting) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    for (let i = 0; i < 5; i++) await frame();
    const start = performance.now();
    if (workerPool) await workerPool.run(mandelbrot, view);
    else mandelbrot.run(view, {} as TaskContext);
    const jobMs = performance.now() - start;
    await frame();
    await frame();
    counting = false;
    await workerPool?.destroy();
    let longestGapMs = 0;
    for (let i = 1; i < stamps.length; i++)
      if (stamps[i]! > start) longestGapMs = Math.max(longestGapMs, stamps[i]! - stamps[i - 1]!);
    return { longestGapMs, jobMs, frames: stamps.length };
  },
};

export type Harness = typeof harness;
(globalThis as unknown as { harness: Harness }).harness = harness;
