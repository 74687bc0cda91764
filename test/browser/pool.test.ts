/**
 * offload/browser in real Chromium: results, errors, timeouts, cancellation, crash replacement,
 * transfer, shared memory and bad input, with the pool's stats and the page's live Web Workers
 * checked for leaks after each case.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { ErrorCodes } from '../../src/core/errors.ts';
import { checksum, mandelbrot } from '../../examples/browser-pool/tasks.ts';
import type { TaskContext } from '../../src/task/task.ts';
import type { PoolStats } from '../../src/pool/shared/pool-stats.ts';
import { waitFor } from '../helpers/temp.ts';
import { call, failure, openTestSite, type Outcome, type TestSite } from './browser-page.ts';

describe('browser pool in Chromium', () => {
  let site: TestSite;
  let page: Page;
  before(async () => {
    site = await openTestSite();
    page = await site.open();
  });
  after(() => site?.close());

  const create = (options: Record<string, unknown> = {}) => call<number>(page, 'create', options);
  const run = (pool: number, task: string, payload?: unknown, options?: { timeout?: number }) =>
    call<Outcome>(page, 'run', pool, task, payload, options);
  const stats = (pool: number) => call<PoolStats>(page, 'stats', pool);
  const destroy = (pool: number) => call<void>(page, 'destroy', pool);

  /** Destroys the pool and checks that every Web Worker it made was terminated. */
  async function destroyWithoutLeaks(pool: number): Promise<void> {
    await destroy(pool);
    assert.equal((await stats(pool)).workers, 0);
    const workers = await call<{ created: number; terminated: number }>(page, 'workers');
    assert.equal(
      workers.terminated,
      workers.created,
      `Web Workers left alive: ${workers.created - workers.terminated}`,
    );
  }

  it('returns results, many at once, over several workers', async () => {
    const pool = await create({ maxWorkers: 3 });
    assert.deepEqual(await run(pool, 'add', { a: 2, b: 3 }), { ok: true, value: 5 });
    const outcomes = await call<Outcome[]>(
      page,
      'runMany',
      pool,
      'echo',
      Array.from({ length: 300 }, (_, i) => ({ i, at: new Date(0) })),
    );
    assert.deepEqual(
      outcomes.map((outcome) => outcome.ok && outcome.value),
      Array.from({ length: 300 }, (_, i) => ({ i, at: new Date(0) })),
    );
    const names = await call<Outcome[]>(page, 'runMany', pool, 'spin', [50, 50, 50]);
    assert.ok(names.every((outcome) => outcome.ok));
    const counts = await stats(pool);
    assert.equal(counts.completed, 304);
    assert.ok(counts.workers >= 1 && counts.workers <= 3, `workers: ${counts.workers}`);
    assert.equal(counts.running, 0);
    await destroyWithoutLeaks(pool);
  });

  it('runs the task module shared with Node: the same render, the same checksum', async () => {
    const pool = await create();
    const view = { width: 64, height: 48, maxIterations: 200 };
    const sums = await call<{ pool: number; page: number }>(page, 'render', pool, view);
    const ctx = {} as TaskContext;
    const inNode = checksum.run(mandelbrot.run(view, ctx) as Uint8ClampedArray, ctx);
    assert.deepEqual(sums, { pool: inNode, page: inNode });
    await destroyWithoutLeaks(pool);
  });

  it('a thrown error comes back with its name, message, stack, code and fields; a rejection too', async () => {
    const pool = await create();
    const thrown = failure(await run(pool, 'throws'), 'E_FIXTURE');
    assert.equal(thrown.name, 'TypeError');
    assert.equal(thrown.message, 'bad input');
    assert.match(thrown.stack!, /tasks-worker\.js/);
    assert.deepEqual(thrown.extra, { field: 'x' });
    const rejected = await run(pool, 'rejects');
    assert.equal(rejected.ok, false);
    assert.deepEqual(!rejected.ok && [rejected.name, rejected.message], [
      'RangeError',
      'rejected on purpose',
    ]);
    assert.deepEqual(
      await run(pool, 'add', { a: 1, b: 1 }),
      { ok: true, value: 2 },
      'the worker still serves',
    );
    assert.equal((await stats(pool)).failed, 2);
    await destroyWithoutLeaks(pool);
  });

  it('reports progress', async () => {
    const pool = await create();
    const { outcome, seen } = await call<{ outcome: Outcome; seen: unknown[] }>(
      page,
      'progress',
      pool,
    );
    assert.deepEqual(outcome, { ok: true, value: 3 });
    assert.deepEqual(seen, [1, 2, 3]);
    await destroyWithoutLeaks(pool);
  });

  it('a task may destructure ctx (`{ progress, signal, yield, job }`)', async () => {
    const pool = await create();
    const { outcome, seen } = await call<{ outcome: Outcome; seen: unknown[] }>(
      page,
      'destructures',
      pool,
    );
    assert.deepEqual(outcome, { ok: true, value: { aborted: false, task: 'destructures' } });
    assert.equal(seen.at(-1), 3, `progress seen: ${seen.join(', ')}`);
    await destroyWithoutLeaks(pool);
  });

  it('progress of a task that holds its worker leaves while it runs; the last value comes before the result', async () => {
    const pool = await create();
    const { outcome, seen } = await call<{
      outcome: Outcome;
      seen: Array<{ value: number; before: number }>;
    }>(page, 'busyProgress', pool, { ms: 1_500, every: 100 });
    assert.equal(outcome.ok, true);
    assert.equal(
      seen.at(-1)?.value,
      outcome.ok && outcome.value,
      'the last value reported arrives, and before the result',
    );
    const early = seen.filter(({ before }) => before > 300);
    assert.ok(
      early.length >= 3,
      `${early.length} of ${seen.length} values arrived over 300 ms before the result (${seen.map(({ before }) => Math.round(before)).join(', ')} ms before it)`,
    );
    assert.ok(
      seen[0]!.before > 700,
      `the first value arrived ${Math.round(seen[0]!.before)} ms before the result`,
    );
    await destroyWithoutLeaks(pool);
  });

  it('a task past its timeout rejects with ERR_TASK_TIMEOUT; its worker is terminated and replaced', async () => {
    const pool = await create({ minWorkers: 1, maxWorkers: 1 });
    failure(await run(pool, 'spin', 60_000, { timeout: 100 }), ErrorCodes.TASK_TIMEOUT);
    failure(await run(pool, 'slow', 60_000), ErrorCodes.TASK_TIMEOUT);
    assert.deepEqual(await run(pool, 'add', { a: 1, b: 2 }), { ok: true, value: 3 });
    const counts = await stats(pool);
    assert.equal(counts.timedOut, 2);
    assert.equal(counts.workersStarted, 3);
    assert.equal(counts.workers, 1);
    await destroyWithoutLeaks(pool);
  });

  it('an aborted signal cancels a running task (worker replaced) and a waiting one (dropped)', async () => {
    const pool = await create({ minWorkers: 1, maxWorkers: 1 });
    await call(page, 'ready', pool);
    const running = call<Outcome>(page, 'cancel', pool, 'spin', 60_000, 100);
    const waiting = call<Outcome>(page, 'cancel', pool, 'echo', 'never', 50);
    const cancelled = failure(await waiting, ErrorCodes.TASK_CANCELLED);
    assert.match(cancelled.message, /"echo" was cancelled/);
    failure(await running, ErrorCodes.TASK_CANCELLED);
    assert.deepEqual(await run(pool, 'echo', 'after'), { ok: true, value: 'after' });
    const counts = await stats(pool);
    assert.equal(counts.cancelled, 2);
    assert.equal(counts.workersStarted, 2);
    await destroyWithoutLeaks(pool);
  });

  for (const [task, what] of [
    ['crashes', /uncaught TypeError: thrown in a timer/],
    ['rejectsUnhandled', /uncaught Error: nobody caught me/],
    ['closes', /self\.close\(\)/],
  ] as const) {
    it(`a worker that dies (${task}) fails its task with ERR_WORKER_CRASHED and is replaced`, async () => {
      const pool = await create({ minWorkers: 1, maxWorkers: 1 });
      await call(page, 'ready', pool);
      const crashed = failure(await run(pool, task), ErrorCodes.WORKER_CRASHED);
      assert.match(crashed.message, what);
      assert.match(crashed.message, new RegExp(`while running "${task}"`));
      assert.deepEqual(
        await run(pool, 'add', { a: 2, b: 2 }),
        { ok: true, value: 4 },
        'a fresh worker serves',
      );
      const counts = await stats(pool);
      assert.deepEqual([counts.crashed, counts.workersCrashed, counts.workers], [1, 1, 1]);
      await destroyWithoutLeaks(pool);
    });
  }

  it('a module URL that 404s or is not a module rejects with ERR_TASK_MODULE, fast, without respawning', async () => {
    for (const [worker, why] of [
      ['missing.js', /answered HTTP 404/],
      ['not-a-module.html', /served as text\/html/],
      ['throws-at-load-worker.js', /broken at load/],
      ['empty-worker.js', /serve\(\) was given no tasks/],
    ] as const) {
      const pool = await create({ worker, minWorkers: 0 });
      const error = failure(await run(pool, 'echo', 1), ErrorCodes.TASK_MODULE);
      assert.match(error.message, why, worker);
      failure(await call<Outcome>(page, 'ready', pool), ErrorCodes.TASK_MODULE);
      failure(await run(pool, 'echo', 2), ErrorCodes.TASK_MODULE);
      assert.equal((await stats(pool)).workersStarted, 1, `${worker}: the breaker stops respawns`);
      await destroyWithoutLeaks(pool);
    }
  });

  it('a module that never calls serve() fails after startTimeout', async () => {
    const pool = await create({ worker: 'no-serve-worker.js', startTimeout: 300 });
    const error = failure(await call<Outcome>(page, 'ready', pool), ErrorCodes.TASK_MODULE);
    assert.match(error.message, /did not call serve\(\) within 300 ms/);
    await destroyWithoutLeaks(pool);
  });

  it('an unknown task name rejects with ERR_TASK_NOT_FOUND naming the tasks there are', async () => {
    const pool = await create();
    const error = failure(await run(pool, 'nope'), ErrorCodes.TASK_NOT_FOUND);
    assert.match(error.message, /no task named "nope"; it exports: .*echo.*mandelbrot/);
    await destroyWithoutLeaks(pool);
  });

  it('a payload that cannot be cloned rejects with ERR_INVALID_PAYLOAD; an uncloneable result with ERR_INVALID_RESULT', async () => {
    const pool = await create({ minWorkers: 1, maxWorkers: 1 });
    const error = failure(
      await call<Outcome>(page, 'uncloneable', pool),
      ErrorCodes.INVALID_PAYLOAD,
    );
    assert.match(
      error.message,
      /cannot be sent to a web worker \(.*could not be cloned.*\); send structured-cloneable data/,
    );
    failure(await run(pool, 'returnsFunction'), ErrorCodes.INVALID_RESULT);
    assert.deepEqual(await run(pool, 'echo', 'still here'), { ok: true, value: 'still here' });
    assert.equal((await stats(pool)).workersStarted, 1);
    await destroyWithoutLeaks(pool);
  });

  it('bad options and run options fail with ERR_INVALID_OPTION naming the option', async () => {
    const typo = failure(
      await call<Outcome>(page, 'createWith', { module: 'x.js', maxWorker: 2 }),
      ErrorCodes.INVALID_OPTION,
    );
    assert.match(typo.message, /unknown option `maxWorker`, did you mean `maxWorkers`\?/);
    const range = failure(
      await call<Outcome>(page, 'createWith', { module: 'x.js', minWorkers: 3, maxWorkers: 2 }),
      ErrorCodes.INVALID_OPTION,
    );
    assert.match(range.message, /`minWorkers` must not exceed maxWorkers \(2\)/);
    failure(await call<Outcome>(page, 'createWith', {}), ErrorCodes.INVALID_OPTION);
    for (const option of ['idleTimeout', 'taskTimeout', 'startTimeout']) {
      const timer = failure(
        await call<Outcome>(page, 'createWith', { module: 'x.js', [option]: 2 ** 31 }),
        ErrorCodes.INVALID_OPTION,
      );
      assert.match(timer.message, new RegExp(`\`${option}\` must be at most 2147483647 ms`));
    }
    const pool = await create({ minWorkers: 0 });
    failure(await run(pool, 'echo', 1, { timeout: -1 }), ErrorCodes.INVALID_OPTION);
    await destroyWithoutLeaks(pool);
  });

  it("transfers ArrayBuffers: the page's copy is detached", async () => {
    const pool = await create();
    const result = await call<{
      outcome: Outcome;
      byteLengthAfter: number;
      detached: boolean | undefined;
    }>(page, 'transfer', pool, 1 << 20);
    assert.deepEqual(result.outcome, { ok: true, value: 1 << 20 });
    assert.equal(result.byteLengthAfter, 0);
    assert.equal(result.detached ?? true, true);
    await destroyWithoutLeaks(pool);
  });

  it('maxQueue refuses with ERR_QUEUE_FULL; close() finishes queued work and refuses new', async () => {
    const pool = await create({ minWorkers: 1, maxWorkers: 1, maxQueue: 1 });
    await call(page, 'ready', pool);
    const first = run(pool, 'wait', 100);
    const second = run(pool, 'wait', 10);
    failure(await run(pool, 'echo', 1), ErrorCodes.QUEUE_FULL);
    assert.deepEqual(
      [await first, await second],
      [
        { ok: true, value: 100 },
        { ok: true, value: 10 },
      ],
    );
    await destroyWithoutLeaks(pool);
    const closing = await create({ maxWorkers: 1 });
    const { outcomes, late } = await call<{ outcomes: Outcome[]; late: Outcome }>(
      page,
      'closeWhileRunning',
      closing,
    );
    assert.deepEqual(outcomes, [
      { ok: true, value: 50 },
      { ok: true, value: 60 },
    ]);
    failure(late, ErrorCodes.POOL_CLOSED);
    assert.equal((await stats(closing)).workers, 0);
    await destroyWithoutLeaks(closing);
  });

  it('idle workers above minWorkers end after idleTimeout; minWorkers stay', async () => {
    const pool = await create({ minWorkers: 1, maxWorkers: 3, idleTimeout: 100 });
    const outcomes = await call<Outcome[]>(
      page,
      'runMany',
      pool,
      'spin',
      [100, 100, 100, 100, 100, 100],
    );
    assert.ok(outcomes.every((outcome) => outcome.ok));
    const grew = (await stats(pool)).workersStarted;
    assert.ok(grew > 1, `started ${grew} workers for 6 tasks`);
    await waitFor(async () => (await stats(pool)).workers === 1, { what: 'idle workers to end' });
    assert.deepEqual(await run(pool, 'add', { a: 1, b: 1 }), { ok: true, value: 2 });
    assert.equal(
      (await stats(pool)).workersStarted,
      grew,
      'the remaining worker served; none was respawned',
    );
    await destroyWithoutLeaks(pool);
  });

  it('ready() waiting when close() ends the pool rejects with ERR_POOL_CLOSED', async () => {
    const pool = await create({ minWorkers: 0 });
    failure(await call<Outcome>(page, 'readyThenClose', pool), ErrorCodes.POOL_CLOSED);
    await destroyWithoutLeaks(pool);
  });

  it('destroy() rejects running and waiting tasks with ERR_POOL_CLOSED at once', async () => {
    const pool = await create({ maxWorkers: 2 });
    const outcomes = await call<Outcome[]>(page, 'destroyWhileRunning', pool);
    for (const outcome of outcomes) failure(outcome, ErrorCodes.POOL_CLOSED);
    await destroyWithoutLeaks(pool);
  });
});

describe('browser pool on a cross-origin isolated page', () => {
  let site: TestSite;
  after(() => site?.close());

  it('shares a SharedArrayBuffer with the worker (only there: a plain page has none)', async () => {
    site = await openTestSite();
    const plain = await site.open('index.html');
    assert.equal(await call(plain, 'crossOriginIsolated'), false);
    assert.equal(await plain.evaluate(() => typeof SharedArrayBuffer), 'undefined');
    assert.deepEqual(
      await call(plain, 'run', await call<number>(plain, 'create'), 'add', { a: 1, b: 1 }),
      { ok: true, value: 2 },
      'the pool needs no shared memory',
    );
    const isolated = await site.open('isolated.html');
    assert.equal(await call(isolated, 'crossOriginIsolated'), true);
    const pool = await call<number>(isolated, 'create');
    assert.deepEqual(await call(isolated, 'shared', pool), {
      outcome: { ok: true, value: true },
      seen: 42,
    });
  });
});
