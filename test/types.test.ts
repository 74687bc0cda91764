import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  createQueue,
  createWorker,
  defineTask,
  defineTasks,
  OffloadError,
  type EnqueueMiddleware,
  type Job,
  type RunMiddleware,
  type RunOutcome,
  type TaskResult,
} from '../src/index.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';

/** Type-level checks: this file must type-check (npm test runs tsc over tests); the body only runs trivially. */
it('carries payload and result types from defineTask to enqueue', () => {
  const send = defineTask({
    name: 'send',
    run: async (payload: { to: string }) => ({ sent: payload.to.length }),
  });
  const check = async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const queue = createQueue({ store, tasks: [send] });
    createWorker({ store, tasks: [send] });
    const job: Job<{ to: string }, { sent: number }> = await queue.enqueue(send, { to: 'ada' });
    const sent: number | undefined = job.result?.sent;
    const result: TaskResult<typeof send> = { sent: 1 };
    // @ts-expect-error the payload must match the task's type
    await queue.enqueue(send, { to: 42 });
    // @ts-expect-error a missing field is refused too
    await queue.enqueue(send, {});
    return [job, sent, result];
  };
  assert.equal(typeof check, 'function');
});

it('types queue.enqueue, wait and run by task name, like offload/client', () => {
  const send = defineTask({
    name: 'send',
    run: async (payload: { to: string }) => ({ sent: payload.to.length }),
  });
  const resize = defineTask({
    name: 'resize',
    run: async (payload: { path: string; width: number }) => ({ bytes: payload.width }),
  });
  const check = async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const untyped = createQueue({ store });
    const byType: Job<{ to: string }, { sent: number }> = await untyped.enqueue<typeof send>(
      'send',
      { to: 'ada' },
    );
    // @ts-expect-error a type argument checks the payload of a name
    await untyped.enqueue<typeof send>('send', { to: 1 });
    // Without a registry or a type, a name takes any payload (checked at run time).
    await untyped.enqueue('anything', { free: true });

    const tasks = defineTasks({ send, resize });
    const queue = createQueue({ store, tasks });
    const job: Job<{ path: string; width: number }, { bytes: number }> = await queue.enqueue(
      'resize',
      { path: 'a.png', width: 10 },
    );
    // @ts-expect-error a registered name checks its task's payload
    await queue.enqueue('resize', { path: 'a.png' });
    // @ts-expect-error a name the registry does not hold needs a handle or a type argument
    await queue.enqueue('unknown', {});
    await queue.enqueue(send, { to: 'handles still work' });

    const sent: { sent: number } = await queue.run('send', { to: 'ada' });
    // @ts-expect-error run checks the payload of a registered name too
    await queue.run('send', { to: 3 });
    const bytes: number = (await queue.wait(job)).bytes;
    const waited: { sent: number } = await queue.wait<typeof send>(byType.id);
    const unknownResult: unknown = await untyped.wait('1');
    // @ts-expect-error the result of a wait by bare id is unknown
    const notNumber: number = await untyped.wait('1');
    createWorker({ store, tasks });
    return [byType, job, sent, bytes, waited, unknownResult, notNumber];
  };
  assert.equal(typeof check, 'function');
});

it('defineTasks keys each task by its name', () => {
  const send = defineTask({ name: 'send', run: () => 1 });
  assert.deepEqual([...defineTasks({ send })], [send]);
  assert.throws(
    () => defineTasks({ mail: send }),
    (error: OffloadError) =>
      error.code === 'ERR_INVALID_OPTION' && /key "mail" holds/.test(error.message),
  );
  assert.throws(
    () => defineTasks({ send: { name: 'send' } as never }),
    (error: OffloadError) => error.code === 'ERR_INVALID_OPTION',
  );
});

it('types the middleware of a queue and of a worker from the root', () => {
  const enqueueMw: EnqueueMiddleware = async (ctx, next) => {
    ctx.meta.tenant = 'acme';
    ctx.tags.push('t');
    // @ts-expect-error the task's name is read-only
    ctx.task = 'other';
    const job: Job = await next();
    return job.id;
  };
  const runMw: RunMiddleware = async (ctx, next) => {
    const mode: 'inline' | 'thread' | 'process' = ctx.mode;
    const outcome: RunOutcome = await next();
    if (outcome.kind === 'retrying') return [mode, outcome.retryAt, outcome.error.message];
    // @ts-expect-error only a retry has a retryAt
    return outcome.retryAt;
  };
  const store = createSqliteStore({ path: ':memory:' });
  createQueue({ store, middleware: [enqueueMw] });
  // @ts-expect-error a run middleware is no enqueue middleware (its next resolves with an outcome)
  createQueue({ store, middleware: [runMw] });
  void store.close();
  assert.equal(typeof runMw, 'function');
});
