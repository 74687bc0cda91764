import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import type { Job } from '../../src/core/job.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { EnqueueMiddleware } from '../../src/queue/enqueue-middleware.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const echo = defineTask({ name: 'mw-echo', run: async (payload: unknown) => payload });

async function refusal(call: Promise<unknown>, code: string): Promise<OffloadError> {
  const error = await call.then(
    () => assert.fail('expected a rejection'),
    (failure: unknown) => failure,
  );
  assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

/** Middleware around enqueue, enqueueMany and run, on each store: order, meta and tags, every misuse. */
for (const kind of testStores) {
  describe(`enqueue middleware (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    before(async () => {
      factory = await kind.make('enqueue-mw');
      store = await factory.open();
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    const total = async () => Object.values(await store.jobCount({})).reduce((a, b) => a + b, 0);
    const queueWith = (...middleware: EnqueueMiddleware[]): Queue =>
      createQueue({ store, tasks: [echo], middleware });

    test('runs in onion order around the store, and next() resolves with the stored job', async () => {
      const seen: string[] = [];
      let stored: Job | undefined;
      const queue = queueWith(
        async (ctx, next) => {
          seen.push(`a:${ctx.task}:${ctx.queue}:${String(ctx.payload)}`);
          stored = await next();
          seen.push('a-after');
        },
        async (_ctx, next) => {
          seen.push('b');
          const job = await next();
          seen.push(`b-after:${job.state}`);
        },
      );
      const job = await queue.enqueue(echo, 7, { queue: 'elsewhere' });
      assert.deepEqual(seen, ['a:mw-echo:elsewhere:7', 'b', 'b-after:queued', 'a-after']);
      assert.equal(stored?.id, job.id);
      assert.equal((await store.jobGet({ id: job.id }))?.queue, 'elsewhere');
    });

    test('meta and tags a middleware adds are stored, beside the caller’s', async () => {
      const queue = queueWith(async (ctx, next) => {
        ctx.meta.tenant = 'acme';
        ctx.meta.traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
        ctx.tags.push('from-mw');
        await next();
      });
      const job = await queue.enqueue(echo, 1, { meta: { requestId: 'r-1' }, tags: ['mine'] });
      const read = await store.jobGet({ id: job.id });
      assert.deepEqual(read?.meta, {
        requestId: 'r-1',
        tenant: 'acme',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      });
      assert.deepEqual(read?.tags, ['mine', 'from-mw']);
      const [many] = await queue.enqueueMany([{ task: echo, payload: 2 }]);
      assert.deepEqual((await store.jobGet({ id: many!.id }))?.meta.tenant, 'acme');
    });

    test('enqueueMany runs the middleware once per job and stores all in one go', async () => {
      const seen: unknown[] = [];
      const queue = queueWith(async (ctx, next) => {
        seen.push(ctx.payload);
        ctx.meta.index = ctx.payload;
        const job = await next();
        seen.push(`stored:${job.payload as number}`);
      });
      const jobs = await queue.enqueueMany([
        { task: echo, payload: 1 },
        { task: 'mw-echo', payload: 2 },
      ]);
      assert.deepEqual(
        jobs.map((job) => job.meta.index),
        [1, 2],
      );
      assert.deepEqual(seen, [1, 2, 'stored:1', 'stored:2']);
      assert.deepEqual(await queue.enqueueMany([]), []);
    });

    test('run goes through the middleware and resolves with the result', async () => {
      const seen: string[] = [];
      const queue = queueWith(async (ctx, next) => {
        seen.push(ctx.task);
        await next();
      });
      const worker = createWorker({ store, tasks: [echo], pollInterval: 20 });
      await worker.start();
      try {
        assert.equal(await queue.run(echo, 'hi', { waitTimeout: 10_000 }), 'hi');
      } finally {
        await worker.stop();
      }
      assert.deepEqual(seen, ['mw-echo']);
    });

    test('a throw before next() stores nothing: ERR_MIDDLEWARE, the cause and the middleware named', async () => {
      const before = await total();
      const boom = new Error('no tenant');
      const queue = queueWith(async function requireTenant() {
        throw boom;
      });
      const error = await refusal(queue.enqueue(echo, 1), 'ERR_MIDDLEWARE');
      assert.equal(error.cause, boom);
      assert.equal(error.details.middleware, 'requireTenant');
      assert.match(error.message, /requireTenant.*no tenant/);
      const many = await refusal(
        queueWith(async (ctx, next) => {
          if (ctx.payload === 2) throw 'not two';
          await next();
        }).enqueueMany([
          { task: echo, payload: 1 },
          { task: echo, payload: 2 },
        ]),
        'ERR_MIDDLEWARE',
      );
      assert.equal(many.details.index, 1);
      assert.equal(many.details.middleware, 'middleware[0]');
      assert.equal(await total(), before);
    });

    test('next() never called or called twice: ERR_MIDDLEWARE_NEXT, nothing stored', async () => {
      const before = await total();
      const never = await refusal(
        queueWith(async function skip() {}).enqueue(echo, 1),
        'ERR_MIDDLEWARE_NEXT',
      );
      assert.match(never.message, /"skip" returned without calling next\(\); nothing was stored/);
      await refusal(
        queueWith(async (ctx, next) => {
          if (ctx.payload === 2) return;
          await next();
        }).enqueueMany([
          { task: echo, payload: 1 },
          { task: echo, payload: 2 },
        ]),
        'ERR_MIDDLEWARE_NEXT',
      );
      assert.equal(await total(), before);
      const twice = await refusal(
        queueWith(async function again(_ctx, next) {
          await next();
          await next();
        }).enqueue(echo, 3),
        'ERR_MIDDLEWARE_NEXT',
      );
      assert.match(twice.message, /"again" called next\(\) twice/);
      // The first next() stored the job: it is whole, and the only one.
      assert.equal(await total(), before + 1);
    });

    test('an error from the store or a check passes through a middleware unchanged', async () => {
      const passes: EnqueueMiddleware = async (_ctx, next) => {
        await next();
      };
      await refusal(
        queueWith(passes).enqueue(echo, 1, { priority: 'high' as unknown as number }),
        'ERR_INVALID_OPTION',
      );
      await refusal(
        queueWith(async (ctx, next) => {
          ctx.meta.big = 'x'.repeat(10_000);
          await next();
        }).enqueue(echo, 1),
        'ERR_INVALID_META',
      );
      await refusal(queueWith(passes).enqueue('no-such-task', 1), 'ERR_TASK_NOT_FOUND');
    });

    test('`middleware` that is not an array of functions: ERR_INVALID_OPTION', () => {
      for (const middleware of [() => {}, [1], ['x'], {}, null]) {
        assert.throws(
          () => createQueue({ store, middleware: middleware as never }),
          (error: unknown) =>
            error instanceof OffloadError &&
            error.code === 'ERR_INVALID_OPTION' &&
            /middleware/.test(error.message),
        );
      }
    });
  });
}
