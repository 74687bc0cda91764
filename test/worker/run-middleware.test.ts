import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { OffloadError } from '../../src/core/errors.ts';
import { createQueue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { RunMiddleware, RunOutcome } from '../../src/worker/run-middleware.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { inlineLogTasks, processLogTasks, threadLogTasks } from '../fixtures/job-log-tasks.ts';
import { testStores } from '../helpers/stores.ts';

type Line = Record<string, unknown>;

const ranInline: string[] = [];
const inlineOk = defineTask({
  name: 'mw-ok-inline',
  run: async (payload: { word: string }) => {
    ranInline.push(payload.word);
    return payload.word;
  },
});

const modes = [
  { mode: 'inline', ok: inlineOk, fail: inlineLogTasks.fail },
  { mode: 'thread', ok: threadLogTasks.ok, fail: threadLogTasks.fail },
  { mode: 'process', ok: processLogTasks.ok, fail: processLogTasks.fail },
] as const;

/**
 * What the misbehaving middleware does, by the job's `meta.behave`: throw before or after
 * `next()`, never call it, or call it twice.
 */
const misbehave: RunMiddleware = async function misbehave(ctx, next) {
  const behave = ctx.job.meta.behave;
  if (behave === 'throw-before') throw new Error('refused before the run');
  if (behave === 'never') return;
  await next();
  if (behave === 'twice') await next();
  if (behave === 'throw-after') throw new Error('refused after the run');
};

for (const { name, make } of testStores) {
  describe(`run middleware (${name})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });
    const open = async (label: string): Promise<Store> => {
      const factory = await make(label);
      const store = await factory.open();
      cleanups.push(
        () => factory.destroy(),
        () => store.close(),
      );
      return store;
    };

    for (const { mode, ok, fail } of modes) {
      it(`${mode}: onion order around the task, the context, and each outcome observed`, async () => {
        const store = await open(`run-mw-${mode}`);
        const queue = createQueue({ store });
        const byJob = new Map<string, string[]>();
        const seen = (id: string) => byJob.get(id) ?? byJob.set(id, []).get(id)!;
        const outcomes: Record<string, RunOutcome> = {};
        ranInline.length = 0;
        const worker = createWorker({
          store,
          tasks: [ok, fail],
          id: `mw-worker-${mode}`,
          pools: { thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } },
          middleware: [
            async (ctx, next) => {
              seen(ctx.job.id).push(`a:${ctx.job.task}`);
              const outcome = await next();
              outcomes[ctx.job.id] = outcome;
              seen(ctx.job.id).push(`a-after:${outcome.kind}`);
              assert.deepEqual(
                [ctx.mode, ctx.attempt, ctx.workerId, ctx.job.meta, ctx.job.tags],
                [mode, 1, `mw-worker-${mode}`, { tenant: 'acme' }, ['t1']],
              );
            },
            async (ctx, next) => {
              seen(ctx.job.id).push('b');
              const started = performance.now();
              await next();
              seen(ctx.job.id).push(`b-after:${performance.now() >= started}`);
              seen(ctx.job.id).push(`ran:${ranInline.join()}`);
            },
          ],
        });
        const good = await queue.enqueue(
          ok,
          { word: 'fine' },
          { meta: { tenant: 'acme' }, tags: ['t1'] },
        );
        const retried = await queue.enqueue(
          fail,
          { word: 'luck' },
          { attempts: 2, meta: { tenant: 'acme' }, tags: ['t1'] },
        );
        const failed = await queue.enqueue(
          fail,
          { word: 'hope' },
          { attempts: 1, meta: { tenant: 'acme' }, tags: ['t1'] },
        );
        const summary = await worker.runUntilIdle();
        assert.deepEqual([summary.succeeded, summary.retried, summary.failed], [1, 1, 1]);
        const success = outcomes[good.id]!;
        assert.equal(success.kind, 'succeeded');
        assert.equal((success as { result: unknown }).result, 'fine');
        const retry = outcomes[retried.id]!;
        assert.equal(retry.kind, 'retrying');
        assert.equal((retry as { error: { message: string } }).error.message, 'no luck');
        assert.ok((retry as { retryAt: number }).retryAt > Date.now() + 30_000);
        assert.equal(outcomes[failed.id]!.kind, 'failed');
        assert.deepEqual(seen(good.id), [
          `a:${ok.name}`,
          'b',
          'b-after:true',
          mode === 'inline' ? 'ran:fine' : 'ran:',
          'a-after:succeeded',
        ]);
        assert.equal((await store.jobGet({ id: good.id }))?.result, 'fine');
      });

      it(`${mode}: a throw, next() never called or called twice fails the run with a clear error, never losing the job`, async () => {
        const store = await open(`run-mw-bad-${mode}`);
        const queue = createQueue({ store });
        const lines: Line[] = [];
        ranInline.length = 0;
        const worker = createWorker({
          store,
          tasks: [ok, fail],
          logger: pino(
            { level: 'info' },
            { write: (line: string) => void lines.push(JSON.parse(line)) },
          ),
          pools: { thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } },
          middleware: [misbehave],
        });
        const enqueue = (behave: string, attempts = 1) =>
          queue.enqueue(ok, { word: behave }, { attempts, meta: { behave } });
        const before = await enqueue('throw-before');
        const never = await enqueue('never');
        const twice = await enqueue('twice');
        const afterRun = await enqueue('throw-after');
        const retried = await queue.enqueue(
          fail,
          { word: 'x' },
          { attempts: 2, meta: { behave: 'throw-before' } },
        );
        const summary = await worker.runUntilIdle();
        assert.deepEqual([summary.failed, summary.retried, summary.succeeded], [4, 1, 0]);

        const expect = async (id: string, state: string, code: string, message: RegExp) => {
          const job = (await store.jobGet({ id }))!;
          assert.equal(job.state, state, id);
          assert.equal(job.attempts, 1);
          assert.equal(job.error?.code, code);
          assert.match(job.error!.message, message);
        };
        await expect(before.id, 'failed', 'ERR_MIDDLEWARE', /"misbehave" threw: refused before/);
        await expect(
          never.id,
          'failed',
          'ERR_MIDDLEWARE_NEXT',
          /without calling next\(\); the task did not run/,
        );
        await expect(twice.id, 'failed', 'ERR_MIDDLEWARE_NEXT', /called next\(\) twice/);
        await expect(afterRun.id, 'failed', 'ERR_MIDDLEWARE', /refused after the run/);
        await expect(retried.id, 'scheduled', 'ERR_MIDDLEWARE', /refused before/);
        if (mode === 'inline') assert.deepEqual(ranInline.sort(), ['throw-after', 'twice']);
        const warned = lines.filter((line) => line.middleware === 'misbehave' && line.level === 40);
        assert.deepEqual(
          new Set(warned.map((line) => line.job)),
          new Set([before.id, never.id, twice.id, afterRun.id, retried.id]),
        );
      });
    }

    it('`middleware` that is not an array of functions: ERR_INVALID_OPTION', async () => {
      const store = await open('run-mw-option');
      for (const middleware of [() => {}, [1], [null], 'x']) {
        assert.throws(
          () => createWorker({ store, tasks: [inlineOk], middleware: middleware as never }),
          (error: unknown) =>
            error instanceof OffloadError &&
            error.code === 'ERR_INVALID_OPTION' &&
            /middleware/.test(error.message),
        );
      }
    });
  });
}
