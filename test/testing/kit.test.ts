import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createTestQueue, runTask, type TestQueue } from '../../src/testing/index.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const sendEmail = defineTask({
  name: 'send-email',
  schema: z.object({ to: z.string().email() }),
  run: (payload: { to: string }, ctx) => {
    ctx.logger.info({ to: payload.to }, 'sending');
    ctx.progress(100);
    return { sent: payload.to };
  },
});

/** Enqueues a welcome email through the queue of its test: the follow-up a test asserts on. */
let followUps: TestQueue | undefined;
const signup = defineTask({
  name: 'signup',
  run: async ({ email }: { email: string }) => {
    await followUps!.queue.enqueue(sendEmail, { to: email });
    return { user: email };
  },
});
const snoozing = defineTask({ name: 'snoozing', run: (_: object, ctx) => ctx.snooze(5_000) });
const tooSlow = defineTask({
  name: 'too-slow',
  timeout: 50,
  attempts: 1,
  run: (_: object, ctx) =>
    new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('late'))),
});
const spawning = defineTask({
  name: 'spawning',
  run: async () => void (await followUps!.queue.enqueue('spawning', {})),
});

const isCode = (code: string) => (error: unknown) =>
  error instanceof OffloadError && error.code === code;

describe('runTask', () => {
  it('gives the job fields to ctx and its logger, and records progress', async () => {
    const run = await runTask(
      sendEmail,
      { to: 'ada@example.org' },
      { jobId: 'j-7', attempt: 2, queue: 'mail' },
    );
    assert.equal(run.outcome, 'succeeded');
    assert.deepEqual(run.progress, [100]);
    assert.equal(run.logs.length, 1);
    const [line] = run.logs;
    assert.deepEqual(
      { ...line },
      {
        level: 'info',
        msg: 'sending',
        to: 'ada@example.org',
        job: 'j-7',
        task: 'send-email',
        queue: 'mail',
        attempt: 2,
        worker: 'offload-testing',
      },
    );
  });

  it('a snooze, and a timeout, end as a worker would record them', async () => {
    const snoozed = await runTask(snoozing, {});
    assert.equal(snoozed.outcome, 'snoozed');
    assert.ok(snoozed.runAt! >= Date.now() + 4_000);
    const late = await runTask(tooSlow, {});
    assert.equal(late.outcome, 'failed');
    assert.equal(late.error?.code, ErrorCodes.TASK_TIMEOUT);
  });

  it('refuses a payload that fails the schema, unknown options and a task that is none', async () => {
    await assert.rejects(
      runTask(sendEmail, { to: 'not an address' }),
      isCode(ErrorCodes.INVALID_PAYLOAD),
    );
    await assert.rejects(
      runTask(sendEmail, { to: 'a@b.org' }, { attemps: 2 } as never),
      (error: unknown) =>
        isCode(ErrorCodes.INVALID_OPTION)(error) && /did you mean `attempts?`/.test(String(error)),
    );
    await assert.rejects(
      runTask(sendEmail, { to: 'a@b.org' }, { attempt: 5, maxAttempts: 3 }),
      isCode(ErrorCodes.INVALID_OPTION),
    );
    await assert.rejects(runTask({} as never, {} as never), isCode(ErrorCodes.INVALID_OPTION));
  });
});

describe('createTestQueue refuses bad input', () => {
  it('no tasks, a task that is none, a bad max or time step', async () => {
    await assert.rejects(createTestQueue({ tasks: [] }), isCode(ErrorCodes.INVALID_OPTION));
    await assert.rejects(
      createTestQueue({ tasks: [{ name: 'x' } as never] }),
      isCode(ErrorCodes.INVALID_OPTION),
    );
    const kit = await createTestQueue({ tasks: [sendEmail] });
    await assert.rejects(kit.drain({ max: 0 }), isCode(ErrorCodes.INVALID_OPTION));
    assert.throws(() => kit.advanceTime(-1), isCode(ErrorCodes.INVALID_OPTION));
    await kit.close();
    await kit.close();
    await assert.rejects(kit.drainOne(), isCode(ErrorCodes.STORE_CLOSED));
  });
});

for (const backend of testStores) {
  describe(`a test queue on a store of your own: ${backend.name}`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let kit: TestQueue;
    before(async () => {
      factory = await backend.make('testing-kit');
      store = await factory.open();
      kit = await createTestQueue({ tasks: [signup, sendEmail, spawning], store });
      followUps = kit;
    });
    after(async () => {
      await kit?.close();
      await store?.close();
      await factory?.destroy();
    });

    it('drains a job and the follow-up it enqueues, and asserts on what was enqueued', async () => {
      await kit.queue.enqueue(signup, { email: 'ada@example.org' });
      assert.deepEqual(await kit.enqueued(sendEmail), []);
      const first = await kit.drainOne();
      assert.equal(first?.job.task, 'signup');
      const emails = await kit.enqueued(sendEmail);
      assert.deepEqual(
        emails.map((job) => [job.payload.to, job.state]),
        [['ada@example.org', 'queued']],
      );
      const rest = await kit.drain();
      assert.deepEqual(
        rest.map((step) => [step.job.task, step.job.state, step.run.logs[0]?.msg]),
        [['send-email', 'succeeded', 'sending']],
      );
      assert.equal((await kit.enqueued()).length, 2);
      assert.equal(await kit.drainOne(), undefined);
    });

    it('stops a drain that never ends, and a store of your own keeps its clock', async () => {
      await kit.queue.enqueue(spawning, {});
      await assert.rejects(
        kit.drain({ max: 5 }),
        (error: unknown) =>
          isCode(ErrorCodes.INVALID_OPTION)(error) && /after 5 steps/.test(String(error)),
      );
      assert.throws(() => kit.advanceTime(1_000), isCode(ErrorCodes.INVALID_OPTION));
      // The spawning chain is left for the store's teardown.
    });
  });
}
