/**
 * The pool contract: one suite that every execution mode passes, each case where it applies.
 * Threads and processes are real; tests wait on events and promises, never on sleeps.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../src/core/errors.ts';
import type { Pool } from '../../src/pool/contract.ts';
import { createPool } from '../../src/pool/pool.ts';
import type { PoolOptions } from '../../src/pool/pool-options.ts';
import type { ExecutionMode } from '../../src/task/task.ts';
import { waitFor } from '../helpers/temp.ts';

export const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
export const TASKS = fixture('pool-tasks.ts');

/** A pool of the fixtures, quiet, with short grace periods. */
export function fixturePool(mode: ExecutionMode, options: Partial<PoolOptions> = {}): Pool {
  return createPool({ mode, module: TASKS, forwardOutput: false, cancelGrace: 200, ...options });
}

/** Rejects with `code` (and a message matching `message`, when given). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<Error & { code: string; details?: Record<string, unknown> }> {
  const error = await promise.then(
    () => assert.fail(`expected a rejection with ${code}`),
    (thrown: unknown) => thrown as Error & { code: string; details?: Record<string, unknown> },
  );
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  if (message) assert.match(error.message, message);
  return error;
}

export function poolContract(mode: ExecutionMode): void {
  const isolated = mode !== 'inline';

  describe(`pool contract: ${mode}`, () => {
    let pool: Pool;
    before(async () => {
      pool = fixturePool(mode, { minWorkers: 2, maxWorkers: 2 });
      await pool.ready();
    });
    after(() => pool.destroy());

    it('returns results, many at once', async () => {
      assert.equal(await pool.run('add', { a: 2, b: 3 }), 5);
      const results = await Promise.all(
        Array.from({ length: 2000 }, (_, i) => pool.run('echo', { i })),
      );
      assert.deepEqual(
        results,
        Array.from({ length: 2000 }, (_, i) => ({ i })),
      );
      if (isolated)
        assert.deepEqual(await pool.run('echo', { at: new Date(0), map: new Map([[1, 2n]]) }), {
          at: new Date(0),
          map: new Map([[1, 2n]]),
        });
    });

    it('a thrown error comes back with its name, message, stack, code and fields', async () => {
      const error = await rejectsWith(pool.run('throws'), 'E_FIXTURE', /bad input/);
      assert.equal(error.name, 'TypeError');
      assert.match(error.stack!, /pool-tasks\.ts:\d+/);
      assert.deepEqual((error as unknown as { extra: unknown }).extra, { field: 'x' });
    });

    it('a rejected promise comes back as the error', async () => {
      const error = await pool.run('rejects').catch((thrown: Error) => thrown);
      assert.equal((error as Error).name, 'RangeError');
      assert.equal((error as Error).message, 'rejected on purpose');
    });

    it('progress reaches onProgress, and timers keep working in coroutine tasks between tasks', async () => {
      const seen: unknown[] = [];
      assert.equal(
        await pool.run('steps', { count: 5 }, { onProgress: (value) => seen.push(value) }),
        5,
      );
      assert.equal(await pool.run('steps', { count: 3 }), 3);
      assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    });

    it('ctx.logger calls reach onLog as plain data, before the result, and go nowhere without it', async () => {
      const seen: unknown[] = [];
      const result = await pool.run('logs', { word: 'hi' }, { onLog: (entry) => seen.push(entry) });
      assert.equal(result, 'hi');
      assert.equal(seen.length, 2);
      assert.deepEqual(seen[0], { level: 'info', fields: { part: 'a', n: 1 }, msg: 'said hi' });
      const second = seen[1] as {
        level: string;
        msg: string;
        fields: { err: Record<string, unknown> };
      };
      assert.equal(second.level, 'error');
      assert.equal(second.msg, 'it failed');
      assert.equal(second.fields.err.name, 'TypeError');
      assert.equal(second.fields.err.message, 'bad');
      assert.match(String(second.fields.err.stack), /pool-tasks\.ts/);
      assert.equal(await pool.run('logs', { word: 'quiet' }), 'quiet');
    });

    it('progress of a task that holds its loop leaves while it runs (thread, process); the last value comes before the result', async () => {
      const arrivals: Array<{ value: number; at: number }> = [];
      const onProgress = (value: unknown) =>
        arrivals.push({ value: value as number, at: performance.now() });
      const last = (await pool.run(
        'busy-progress',
        { ms: 1_500, every: 100 },
        { onProgress },
      )) as number;
      const resultAt = performance.now();
      const values = arrivals.map(({ value }) => value);
      assert.equal(values.at(-1), last, 'the last value reported arrives, and before the result');
      assert.deepEqual(
        values,
        [...new Set(values)].sort((a, b) => a - b),
        'in the order reported, none twice',
      );
      if (isolated) {
        // The task never awaits: what arrives well before its result was sent while it held its loop.
        const early = arrivals.filter(({ at }) => at < resultAt - 300);
        assert.ok(
          early.length >= 3,
          `${early.length} of ${values.length} values arrived over 300 ms before the result (${arrivals.map(({ at }) => Math.round(resultAt - at)).join(', ')} ms before it)`,
        );
        assert.ok(
          arrivals[0]!.at < resultAt - 700,
          `the first value arrived ${Math.round(resultAt - arrivals[0]!.at)} ms before the result`,
        );
      } else {
        // Inline, onProgress runs inside ctx.progress, on the loop the task holds: every value, at once,
        // but nothing the callback starts (a write, a timer) can run before the task yields or ends.
        assert.deepEqual(
          values,
          Array.from({ length: last }, (_, i) => i + 1),
        );
      }
    });

    it('a task may destructure ctx (`{ progress, signal, yield, job, fail }`)', async () => {
      const seen: unknown[] = [];
      assert.deepEqual(
        await pool.run('destructures', 3, { onProgress: (value) => seen.push(value) }),
        { aborted: false, task: 'destructures' },
      );
      // Reports of one turn may be folded into the last (a thread or process sends the latest).
      assert.equal(seen.at(-1), 3, `progress seen: ${seen.join(', ')}`);
      assert.deepEqual([...seen].sort(), seen);
      const error = await pool.run('destructures', -1).then(
        () => assert.fail('expected ctx.fail() to reject the run'),
        (thrown: Error) => thrown,
      );
      assert.deepEqual([error.name, error.message], ['PermanentFailure', 'negative steps']);
    });

    it('ctx.job says what the caller passed, or describes the pool task', async () => {
      const job = { id: '42', task: 'job', queue: 'q', attempt: 2, maxAttempts: 3 };
      assert.deepEqual(await pool.run('job', null, { job }), job);
      assert.equal(((await pool.run('job')) as { task: string }).task, 'job');
    });

    it('a task name the module does not export fails with ERR_TASK_NOT_FOUND', async () => {
      await rejectsWith(pool.run('no-such-task'), ErrorCodes.TASK_NOT_FOUND, /no-such-task.*echo/);
    });

    it('refuses bad run arguments with ERR_INVALID_OPTION', async () => {
      await rejectsWith(pool.run('echo', 1, { timeout: -5 }), ErrorCodes.INVALID_OPTION, /timeout/);
      await rejectsWith(pool.run(42 as unknown as string), ErrorCodes.INVALID_OPTION);
    });

    it('cancels: a running task sees its signal abort and the run rejects with ERR_TASK_CANCELLED', async () => {
      const controller = new AbortController();
      const running = pool.run('wait-for-abort', null, {
        signal: controller.signal,
        onProgress: () => controller.abort(),
      });
      await rejectsWith(running, ErrorCodes.TASK_CANCELLED);
      await rejectsWith(
        pool.run('echo', 1, { signal: AbortSignal.abort() }),
        ErrorCodes.TASK_CANCELLED,
      );
      assert.equal(await pool.run('echo', 'still fine'), 'still fine');
    });

    it('times out from the start of the task, not from its submission', async () => {
      const single = fixturePool(mode, { minWorkers: 1, maxWorkers: 1, tasksPerWorker: 1 });
      try {
        const first = single.run('sleeps', { ms: 400 });
        const second = single.run('sleeps', { ms: 20 }, { timeout: 300 });
        assert.equal(await first, 400);
        assert.equal(await second, 20);
        const error = await rejectsWith(
          single.run('sleeps', { ms: 60_000 }, { timeout: 50 }),
          ErrorCodes.TASK_TIMEOUT,
        );
        assert.match(error.message, /sleeps/);
        assert.equal(single.stats().timedOut, 1);
      } finally {
        await single.destroy();
      }
    });

    if (!isolated) {
      it('a task that never stops is rejected at its timeout and its signal aborts (inline cannot kill it)', async () => {
        const seen: unknown[] = [];
        await rejectsWith(
          pool.run('wait-for-abort', null, {
            timeout: 50,
            onProgress: (value) => seen.push(value),
          }),
          ErrorCodes.TASK_TIMEOUT,
        );
        assert.deepEqual(seen, ['waiting']);
      });
    }

    if (isolated) {
      it('destroy() keeps the program alive until its workers are gone, even when an abandoned task answers first', async () => {
        const single = fixturePool(mode, { minWorkers: 1, maxWorkers: 1 });
        await rejectsWith(
          single.run('sleeps', { ms: 60_000 }, { timeout: 20 }),
          ErrorCodes.TASK_TIMEOUT,
        );
        // The worker answers the cancellation while this thread is busy, so destroy() comes before
        // the answer is read. That answer used to unref the worker, and the loop could end (this
        // file then fails with "Promise resolution is still pending") before the exit was seen.
        const until = Date.now() + 50;
        while (Date.now() < until);
        await single.destroy();
        assert.equal(single.stats().workers, 0);
      });

      it('hands a worker half its tasksPerWorker at a time, and grows once every worker holds more than half', async () => {
        const growing = fixturePool(mode, { minWorkers: 1, maxWorkers: 2, tasksPerWorker: 4 });
        const turn = () => new Promise((resolve) => setImmediate(resolve));
        try {
          const runs = [1, 2, 3].map((n) => growing.run('sleeps', { ms: 200 + n }));
          await turn();
          assert.deepEqual(
            [growing.stats().workers, growing.stats().running],
            [1, 3],
            'three tasks fit in one worker',
          );
          runs.push(growing.run('sleeps', { ms: 204 }));
          await turn();
          assert.deepEqual(
            [growing.stats().workers, growing.stats().running],
            [2, 4],
            'a fourth would leave the first worker less than a batch of room',
          );
          assert.deepEqual(await Promise.all(runs), [201, 202, 203, 204]);
        } finally {
          await growing.destroy();
        }
      });
    }

    if (isolated) {
      it('idleTimeout: an idle worker above minWorkers exits after it, and the next task starts a fresh one', async () => {
        const idle = fixturePool(mode, { minWorkers: 0, maxWorkers: 1, idleTimeout: 100 });
        const kept = fixturePool(mode, { minWorkers: 0, maxWorkers: 1, idleTimeout: 60_000 });
        const exits: string[] = [];
        idle.on('worker:exit', ({ reason }) => exits.push(reason));
        try {
          const [first] = (await Promise.all([idle.run('whoami'), kept.run('whoami')])) as string[];
          await waitFor(() => idle.stats().workers === 0, {
            what: `the idle ${mode} worker to exit`,
          });
          assert.deepEqual(exits, ['idle']);
          if (mode === 'process')
            assert.throws(
              () => process.kill(Number(first!.split(':')[0]), 0),
              { code: 'ESRCH' },
              'the child is gone',
            );
          const second = await idle.run('whoami');
          assert.notEqual(second, first, 'a fresh worker ran the next task');
          assert.equal(idle.stats().workersStarted, 2);
          assert.equal(kept.stats().workers, 1, 'with a long idleTimeout the worker stays');
        } finally {
          await Promise.all([idle.destroy(), kept.destroy()]);
        }
      });
    }

    if (isolated) {
      it('passes what cannot be cloned back as clear errors, and the rest of a batch goes through', async () => {
        const runs = [pool.run('echo', 1), pool.run('echo', { fn: () => 1 }), pool.run('echo', 3)];
        const [one, bad, three] = await Promise.allSettled(runs);
        assert.deepEqual(
          [one, three],
          [
            { status: 'fulfilled', value: 1 },
            { status: 'fulfilled', value: 3 },
          ],
        );
        assert.equal(bad!.status, 'rejected');
        assert.equal((bad as PromiseRejectedResult).reason.code, ErrorCodes.INVALID_PAYLOAD);
        await rejectsWith(pool.run('echo', Symbol('nope')), ErrorCodes.INVALID_PAYLOAD);
        await rejectsWith(pool.run('returns-function'), ErrorCodes.INVALID_RESULT);
      });

      it('ends a task that ignores its signal after the grace period; a replacement starts', async () => {
        const controller = new AbortController();
        const exited = once(pool, 'worker:exit');
        const replaced = once(pool, 'worker:ready');
        const running = pool.run('endless-loop', null, { signal: controller.signal });
        await waitForRunning(pool);
        controller.abort();
        await rejectsWith(running, ErrorCodes.TASK_CANCELLED);
        const [exit] = (await exited) as [{ reason: string }];
        assert.equal(exit.reason, 'terminated');
        await replaced;
        assert.equal(await pool.run('add', { a: 1, b: 1 }), 2);
      });

      it('kills an endless loop at its timeout; tasks on other workers are unaffected', async () => {
        const exited = once(pool, 'worker:exit');
        const replaced = once(pool, 'worker:ready');
        const looping = rejectsWith(
          pool.run('endless-loop', null, { timeout: 300 }),
          ErrorCodes.TASK_TIMEOUT,
        );
        await waitForRunning(pool);
        const others: unknown[] = [];
        for (let i = 0; i < 10; i++) others.push(await pool.run('sleeps', { ms: i }));
        await looping;
        assert.equal(((await exited) as [{ reason: string }])[0].reason, 'terminated');
        assert.equal(others.length, 10);
        await replaced;
        assert.equal(await pool.run('echo', 'next'), 'next');
      });

      it('a task calling process.exit fails with ERR_WORKER_CRASHED naming it; others go on', async () => {
        const replaced = once(pool, 'worker:ready');
        const error = await rejectsWith(
          pool.run('exits'),
          ErrorCodes.WORKER_CRASHED,
          /exited with code 7.*"exits"/s,
        );
        assert.equal(error.details?.exitCode, 7);
        assert.deepEqual(await Promise.all([pool.run('echo', 'a'), pool.run('echo', 'b')]), [
          'a',
          'b',
        ]);
        await replaced;
      });

      it('an unhandled rejection crashes only its worker, and the error says what it was', async () => {
        const replaced = once(pool, 'worker:ready');
        await rejectsWith(
          pool.run('unhandled-rejection'),
          ErrorCodes.WORKER_CRASHED,
          /nobody handles this/,
        );
        assert.equal(await pool.run('echo', 'after'), 'after');
        await replaced;
      });

      it('in-flight tasks of a dead worker are rejected; queued ones run on a replacement', async () => {
        const single = fixturePool(mode, { minWorkers: 1, maxWorkers: 1, tasksPerWorker: 4 });
        try {
          await single.ready();
          const runs = [
            single.run('sleeps', { ms: 200 }),
            single.run('exits'),
            ...Array.from({ length: 6 }, (_, i) => single.run('echo', i)),
          ];
          const settled = await Promise.allSettled(runs);
          const crashed = settled
            .filter((result) => result.status === 'rejected')
            .map((result) => (result as PromiseRejectedResult).reason.code);
          assert.ok(
            crashed.length >= 2 && crashed.every((code) => code === ErrorCodes.WORKER_CRASHED),
            `crashed: ${crashed.join(', ')}`,
          );
          assert.deepEqual(settled.slice(-2), [
            { status: 'fulfilled', value: 4 },
            { status: 'fulfilled', value: 5 },
          ]);
          assert.equal(single.stats().workersCrashed, 1);
        } finally {
          await single.destroy();
        }
      });

      it('a task that runs out of memory fails with ERR_WORKER_CRASHED (out of memory); the pool goes on', async () => {
        const small = fixturePool(mode, {
          minWorkers: 1,
          maxWorkers: 1,
          resourceLimits: { maxOldGenerationSizeMb: 48 },
        });
        try {
          const error = await rejectsWith(
            small.run('out-of-memory'),
            ErrorCodes.WORKER_CRASHED,
            /out of memory/,
          );
          assert.equal(error.details?.reason, 'out-of-memory');
          assert.equal(await small.run('echo', 'alive'), 'alive');
        } finally {
          await small.destroy();
        }
      });

      it('recycles a worker after recycleAfter tasks, and one whose heap grows past heapUsedMb', async () => {
        const recycling = fixturePool(mode, { minWorkers: 1, maxWorkers: 1, recycleAfter: 3 });
        const leaky = fixturePool(mode, {
          minWorkers: 1,
          maxWorkers: 1,
          recycleAfter: { heapUsedMb: 48 },
        });
        try {
          const ids: unknown[] = [];
          for (let i = 0; i < 6; i++) ids.push(await recycling.run('whoami'));
          assert.equal(ids[0], ids[2]);
          assert.notEqual(ids[2], ids[3]);
          assert.equal(recycling.stats().workersRecycled >= 1, true);
          const recycled = once(leaky, 'worker:exit');
          for (let i = 0; i < 6; i++) await leaky.run('leaks', { mb: 16 });
          assert.equal(((await recycled) as [{ reason: string }])[0].reason, 'recycled');
          assert.equal(await leaky.run('echo', 'fresh'), 'fresh');
        } finally {
          await Promise.all([recycling.destroy(), leaky.destroy()]);
        }
      });
    }

    if (mode === 'thread') {
      it('moves transferables and shares SharedArrayBuffers with the thread', async () => {
        const buffer = new ArrayBuffer(1024);
        assert.equal(await pool.run('byte-length', { buffer }, { transfer: [buffer] }), 1024);
        assert.equal(buffer.byteLength, 0, 'the buffer was moved, not copied');
        const shared = new SharedArrayBuffer(8);
        await pool.run('increment', { shared });
        assert.deepEqual([...new Uint8Array(shared)], [1, 1, 1, 1, 1, 1, 1, 1]);
      });
    }

    if (mode === 'process') {
      it('a task killed by a signal fails with the signal name (SIGSEGV, SIGKILL); others go on', async () => {
        const segv = await rejectsWith(
          pool.run('segfault'),
          ErrorCodes.WORKER_CRASHED,
          /signal SIGSEGV.*"segfault"/s,
        );
        assert.equal(segv.details?.signal, 'SIGSEGV');
        await rejectsWith(pool.run('sigkill'), ErrorCodes.WORKER_CRASHED, /signal SIGKILL/);
        assert.equal(await pool.run('echo', 'alive'), 'alive');
      });

      it("keeps the tail of a child's stdout and stderr, for onOutput and crash errors", async () => {
        let output = '';
        const done = new Promise<void>((resolve) => {
          void pool.run(
            'speaks',
            { text: 'hello' },
            { onOutput: (text) => ((output = text), resolve()) },
          );
        });
        await done;
        assert.match(output, /out: hello\n/);
        assert.match(output, /err: hello\n/);
        const crash = await rejectsWith(
          pool.run('speaks-then-exits', { text: 'goodbye' }),
          ErrorCodes.WORKER_CRASHED,
          /last words: goodbye/,
        );
        assert.match(String(crash.details?.output), /last words: goodbye/);
      });
    }

    it('bad module: a missing path fails clearly at ready and at run, without endless respawning', async () => {
      const broken = createPool({
        mode,
        module: fixture('does-not-exist.ts'),
        forwardOutput: false,
      });
      try {
        await rejectsWith(broken.ready(), ErrorCodes.TASK_MODULE, /does not exist/);
        await rejectsWith(broken.run('echo', 1), ErrorCodes.TASK_MODULE, /does not exist/);
        assert.ok(broken.stats().workersStarted <= 1);
      } finally {
        await broken.destroy();
      }
    });

    it('bad module: one that throws at load fails every run with ERR_TASK_MODULE', async () => {
      const broken = createPool({
        mode,
        module: fixture('throws-at-load.ts'),
        forwardOutput: false,
        minWorkers: 0,
      });
      try {
        const runs = [broken.run('never'), broken.run('never')];
        for (const run of runs) await rejectsWith(run, ErrorCodes.TASK_MODULE, /refuses to load/);
        assert.ok(broken.stats().workersStarted <= 2);
      } finally {
        await broken.destroy();
      }
    });

    if (isolated) {
      it('bad module: one that exits while loading stops being respawned (a breaker)', async () => {
        const broken = createPool({
          mode,
          module: fixture('exits-at-load.ts'),
          forwardOutput: false,
        });
        try {
          await rejectsWith(
            broken.ready(),
            ErrorCodes.WORKER_CRASHED,
            /exited with code 9 while starting/,
          );
          await rejectsWith(broken.run('never'), ErrorCodes.WORKER_CRASHED);
          assert.ok(broken.stats().workersStarted <= 3, `started ${broken.stats().workersStarted}`);
        } finally {
          await broken.destroy();
        }
      });
    }

    it('refuses out-of-range and unknown options with ERR_INVALID_OPTION', () => {
      assert.throws(() => createPool({ mode, module: TASKS, maxWorkers: 0 }), {
        code: ErrorCodes.INVALID_OPTION,
        message: /maxWorkers/,
      });
      assert.throws(() => createPool({ mode, module: TASKS, minWorker: 1 } as PoolOptions), {
        code: ErrorCodes.INVALID_OPTION,
        message: /did you mean `minWorkers`/,
      });
      assert.throws(() => createPool({ mode, module: TASKS, taskTimeout: -1 }), {
        code: ErrorCodes.INVALID_OPTION,
        message: /taskTimeout/,
      });
      assert.throws(() => createPool({ mode, module: TASKS, minWorkers: 3, maxWorkers: 2 }), {
        code: ErrorCodes.INVALID_OPTION,
        message: /minWorkers/,
      });
      assert.throws(() => createPool({ module: '' }), {
        code: ErrorCodes.INVALID_OPTION,
        message: /module/,
      });
    });

    it('maxQueue: a run beyond it rejects with ERR_QUEUE_FULL', async () => {
      const limited = fixturePool(mode, {
        minWorkers: 1,
        maxWorkers: 1,
        tasksPerWorker: 1,
        maxQueue: 1,
      });
      try {
        const first = limited.run('sleeps', { ms: 100 });
        await new Promise((resolve) => setImmediate(resolve));
        const second = limited.run('sleeps', { ms: 1 });
        const third = limited.run('sleeps', { ms: 1 });
        await rejectsWith(third, ErrorCodes.QUEUE_FULL, /maxQueue/);
        assert.deepEqual(await Promise.all([first, second]), [100, 1]);
      } finally {
        await limited.destroy();
      }
    });

    it('close() drains queued and running tasks, then refuses new ones; destroy() rejects the rest', async () => {
      const closing = fixturePool(mode, { minWorkers: 1, maxWorkers: 1 });
      const runs = Array.from({ length: 5 }, (_, i) => closing.run('sleeps', { ms: 10 + i }));
      const closed = closing.close();
      await rejectsWith(closing.run('echo', 1), ErrorCodes.POOL_CLOSED);
      assert.deepEqual(await Promise.all(runs), [10, 11, 12, 13, 14]);
      await closed;
      assert.equal(closing.stats().workers, 0);
      await closing.close();

      const destroying = fixturePool(mode, { minWorkers: 1, maxWorkers: 1 });
      const doomed = rejectsWith(destroying.run('sleeps', { ms: 60_000 }), ErrorCodes.POOL_CLOSED);
      await destroying.destroy();
      await doomed;
      await destroying.destroy();
    });

    it('stats() counts outcomes and reports run and wait times', async () => {
      const stats = pool.stats();
      assert.equal(stats.mode, mode);
      assert.ok(stats.completed >= 2000);
      assert.ok(stats.failed >= 2);
      assert.ok(stats.runTime.p99 >= stats.runTime.p50);
      assert.ok(stats.utilisation >= 0 && stats.utilisation <= 1);
    });
  });
}

/** Resolves once the pool has handed a task to a worker. */
async function waitForRunning(pool: Pool): Promise<void> {
  while (pool.stats().running === 0) await new Promise((resolve) => setImmediate(resolve));
}
