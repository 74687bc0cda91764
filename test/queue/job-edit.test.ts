import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { OffloadError } from '../../src/core/errors.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { TEST_PG_URL } from '../helpers/postgres.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const mail = defineTask({
  name: 'mail',
  schema: z.object({ to: z.string().email(), subject: z.string().optional() }),
  run: async (payload: { to: string; subject?: string }) => `sent to ${payload.to}`,
});

test('update types its payload by the task (checked by tsc over tests)', () => {
  const check = async (queue: Queue) => {
    const job = await queue.update<typeof mail>('1', { payload: { to: 'ada@example.com' } });
    const to: string = job.payload.to;
    // @ts-expect-error the payload must match the task's type
    await queue.update<typeof mail>('1', { payload: { to: 42 } });
    // @ts-expect-error runAt is a Date or epoch milliseconds
    await queue.update('1', { runAt: 'tomorrow' });
    return to;
  };
  assert.equal(typeof check, 'function');
});

/** queue.update and queue.remove over a real store of each kind: checks, refusals, and the wake of an idle worker. */
for (const kind of testStores) {
  describe(`queue.update and queue.remove (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    before(async () => {
      factory = await kind.make('queue-edit');
      store = await factory.open();
      queue = createQueue({ store, tasks: [mail], maxPayloadBytes: 200 });
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    const refusal = async (call: Promise<unknown>, code: string): Promise<OffloadError> => {
      const error = await call.then(
        () => assert.fail('expected a rejection'),
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      return error;
    };

    test('changes run-at (or delay), priority and payload, typed by the task', async () => {
      const job = await queue.enqueue(mail, { to: 'ada@example.com' }, { delay: 60_000 });
      const at = new Date(Date.now() + 5000);
      const moved = await queue.update<typeof mail>(job.id, {
        runAt: at,
        priority: 4,
        payload: { to: 'bob@example.com', subject: 'hi' },
      });
      assert.equal(moved.runAt, at.getTime());
      assert.equal(moved.priority, 4);
      assert.deepEqual(moved.payload, { to: 'bob@example.com', subject: 'hi' });
      const before = Date.now();
      const delayed = await queue.update(job.id, { delay: 1000 });
      assert.ok(delayed.runAt >= before + 1000 && delayed.runAt <= Date.now() + 1000);
      assert.equal(delayed.state, 'scheduled');
      assert.equal((await queue.getJob(job.id))?.priority, 4, 'an absent field is kept');
    });

    test('a payload that fails the task schema changes nothing', async () => {
      const job = await queue.enqueue(mail, { to: 'ada@example.com' });
      const error = await refusal(
        queue.update(job.id, { payload: { to: 'not an address' }, priority: 9 }),
        'ERR_INVALID_PAYLOAD',
      );
      assert.match(error.message, /to:/);
      await refusal(
        queue.update(job.id, { payload: { to: 'a@example.com', subject: 'x'.repeat(300) } }),
        'ERR_PAYLOAD_TOO_LARGE',
      );
      await refusal(
        queue.update(job.id, { payload: { to: () => 1 } as never }),
        'ERR_INVALID_PAYLOAD',
      );
      const read = await queue.getJob(job.id);
      assert.deepEqual(read?.payload, { to: 'ada@example.com' });
      assert.equal(read?.priority, 0);
    });

    test('bad changes are refused with ERR_INVALID_OPTION naming the option', async () => {
      const job = await queue.enqueue(mail, { to: 'ada@example.com' });
      const cases: Array<[unknown, RegExp]> = [
        [{}, /nothing to change/],
        [{ priority: 1.5 }, /`priority`/],
        [{ priority: 2_000_000 }, /`priority`/],
        [{ delay: -1 }, /`delay`/],
        [{ runAt: 'tomorrow' }, /`runAt`/],
        [{ prority: 1 }, /did you mean `priority`/],
        [null, /options must be an object/],
      ];
      for (const [changes, message] of cases) {
        const error = await refusal(queue.update(job.id, changes as never), 'ERR_INVALID_OPTION');
        assert.match(error.message, message);
      }
      assert.equal((await queue.getJob(job.id))?.priority, 0);
    });

    test('an unknown id is ERR_JOB_NOT_FOUND, a running job ERR_JOB_STATE', async () => {
      await refusal(queue.update('987654', { priority: 1 }), 'ERR_JOB_NOT_FOUND');
      await refusal(queue.update('987654', { payload: { to: 'a@b.co' } }), 'ERR_JOB_NOT_FOUND');
      await refusal(queue.remove('987654'), 'ERR_JOB_NOT_FOUND');
      const job = await queue.enqueue('mail', { to: 'ada@example.com' }, { queue: 'edit-running' });
      await store.jobClaim({
        workerId: 'host:1:test',
        queues: [{ name: 'edit-running', limit: 1 }],
        tasks: ['mail'],
        leaseMs: 30_000,
      });
      const error = await refusal(queue.update(job.id, { priority: 1 }), 'ERR_JOB_STATE');
      assert.equal(error.details.state, 'running');
      await refusal(queue.remove(job.id), 'ERR_JOB_STATE');
      await queue.cancel(job.id);
      assert.equal((await queue.remove(job.id)).state, 'cancelled');
      assert.equal(await queue.getJob(job.id), undefined);
    });

    test('an earlier run-at wakes an idle worker on another connection at once', async () => {
      // The store's own safety poll would wake the worker too: keep it out of this test's time.
      const workerStore =
        kind.name === 'postgres'
          ? await createPostgresStore({
              connectionString: TEST_PG_URL,
              schema: factory.env.OFFLOAD_TEST_PG_SCHEMA!,
              pollInterval: 60_000,
            })
          : await factory.open();
      const worker = createWorker({
        store: workerStore,
        tasks: [mail],
        queues: ['wake'],
        pollInterval: 60_000,
        blockThreshold: 0,
      });
      try {
        const job = await queue.enqueue(
          mail,
          { to: 'ada@example.com' },
          { queue: 'wake', delay: 3_600_000 },
        );
        await worker.start();
        await new Promise((r) => setTimeout(r, 200));
        assert.equal((await queue.getJob(job.id))?.state, 'scheduled');
        const started = Date.now();
        await queue.update(job.id, { runAt: Date.now() });
        while ((await queue.getJob(job.id))?.state !== 'succeeded') {
          assert.ok(Date.now() - started < 10_000, 'the worker never woke');
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(Date.now() - started < 1000, `woke after ${Date.now() - started} ms`);
      } finally {
        await worker.stop();
        await workerStore.close();
      }
    });
  });
}
