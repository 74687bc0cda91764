import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, ProblemError, type OffloadClient } from '../../src/client/index.ts';
import { greet } from '../fixtures/api-tasks.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

async function problem(promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (failure: unknown) => failure,
  );
  assert.ok(error instanceof ProblemError, `expected a ProblemError, got ${String(error)}`);
  return error;
}

describe('offload/client: update and remove against a real server on SQLite', () => {
  let api: ApiHarness;
  let client: OffloadClient;
  before(async () => {
    api = await startApi([greet], { worker: false });
    client = createClient({ url: api.url, token: api.token });
  });
  after(() => api.close());

  test('update changes runAt (a Date), priority and a typed payload', async () => {
    const job = await client.enqueue<typeof greet>('greet', { name: 'ada' }, { delay: '1h' });
    const runAt = new Date(Date.now() + 60_000);
    const updated = await client.update<typeof greet>(job.id, {
      runAt,
      priority: 2,
      payload: { name: 'grace' },
    });
    assert.equal(updated.runAt, runAt.toISOString());
    assert.equal(updated.priority, 2);
    assert.equal(updated.payload.name, 'grace');
    assert.equal(updated.state, 'scheduled');
    const delayed = await client.update(job.id, { delay: '5s' });
    assert.ok(Date.parse(delayed.runAt) < Date.now() + 6000);
    assert.deepEqual((await api.queue.getJob(job.id))?.payload, { name: 'grace' });
  });

  test('a payload that fails the schema is a 422 ProblemError naming the field', async () => {
    const job = await client.enqueue<typeof greet>('greet', { name: 'ada' });
    const error = await problem(client.update<typeof greet>(job.id, { payload: { name: '' } }));
    assert.equal(error.status, 422);
    assert.equal(error.code, 'ERR_INVALID_PAYLOAD');
    assert.equal(error.errors[0]?.field, 'body.payload.name');
    assert.deepEqual((await api.queue.getJob(job.id))?.payload, { name: 'ada' });
  });

  test('remove answers the job as it was; a running job is a 409 and stays', async () => {
    const waiting = await client.enqueue('greet', { name: 'ada' });
    const removed = await client.remove(waiting.id);
    assert.equal(removed.id, waiting.id);
    assert.equal(removed.state, 'queued');
    assert.equal((await problem(client.getJob(waiting.id))).status, 404);
    assert.equal((await problem(client.remove(waiting.id))).code, 'ERR_JOB_NOT_FOUND');

    const running = await client.enqueue('greet', { name: 'ada' }, { queue: 'client-running' });
    await api.store.jobClaim({
      workerId: 'host:1:client',
      queues: [{ name: 'client-running', limit: 1 }],
      tasks: ['greet'],
      leaseMs: 30_000,
    });
    const refused = await problem(client.remove(running.id));
    assert.equal(refused.status, 409);
    assert.equal(refused.code, 'ERR_JOB_STATE');
    const notChanged = await problem(client.update(running.id, { priority: 1 }));
    assert.equal(notChanged.status, 409);
    assert.equal((await client.getJob(running.id)).state, 'running');
  });
});
