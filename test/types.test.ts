import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createQueue, createWorker, defineTask, type Job, type TaskResult } from '../src/index.ts';
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
