import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, ProblemError, type ApiBulk } from '../../src/client/index.ts';
import type { toBulkView } from '../../src/server/routes/bulk.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

/** The client's bulk shape must keep up with what the server sends (checked by the compiler). */
const _serverViewFitsClient = (view: ReturnType<typeof toBulkView>): ApiBulk => view;
void _serverViewFitsClient;

/** Each job fails its first run (for good: one attempt) and succeeds when run again. */
const ranBefore = new Set<string>();
const flaky = defineTask({
  name: 'flaky',
  attempts: 1,
  run: async (_payload: unknown, ctx) => {
    if (ranBefore.has(ctx.job.id)) return 'second time lucky';
    ranBefore.add(ctx.job.id);
    throw Object.assign(new Error('the API is down'), { code: 'E_DOWN' });
  },
});

/** client.bulk, getBulk, waitForBulk, deadLetters and redrive against a real server and worker. */
describe('client: bulk actions and dead letters', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([flaky]);
  });
  after(async () => api?.close());

  const client = () => createClient({ url: api.url, token: api.token });

  const until = async (check: () => Promise<boolean>) => {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await sleep(20);
    }
  };

  test('dead letters of a failing task, redriven, end succeeded', async () => {
    const c = client();
    await c.enqueueMany(Array.from({ length: 30 }, () => ({ task: 'flaky', payload: {} })));
    await until(async () => (await api.queue.countJobs({ task: 'flaky' })).failed === 30);
    const groups = await c.deadLetters({ task: 'flaky' });
    assert.equal(groups.length, 1);
    assert.equal(groups[0]!.count, 30);
    assert.equal(groups[0]!.errorMessage, 'the API is down');
    const started = await c.redrive(groups[0]!);
    assert.equal(started.matched, 30);
    const end = await c.waitForBulk(started, { pollMs: 20, timeoutMs: 20_000 });
    assert.equal(end.state, 'done');
    assert.equal(end.done, 30);
    assert.deepEqual(await c.getBulk(end.id), end);
    await until(async () => (await api.queue.countJobs({ task: 'flaky' })).succeeded === 30);
    assert.deepEqual(await c.deadLetters({ task: 'flaky' }), []);
  });

  test('bulk delete by task; refusals are ProblemErrors with codes', async () => {
    const c = client();
    const refused = await c.bulk({ action: 'delete' }).catch((error: unknown) => error);
    assert.ok(refused instanceof ProblemError);
    assert.equal(refused.status, 422);
    assert.equal(refused.code, 'ERR_BULK_FILTER_EMPTY');
    const missing = await c.getBulk('777777').catch((error: unknown) => error);
    assert.ok(missing instanceof ProblemError);
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'ERR_BULK_NOT_FOUND');
    const wrongState = await c
      .bulk({ action: 'retry', filter: { state: 'running' } })
      .catch((error: unknown) => error);
    assert.ok(wrongState instanceof ProblemError);
    assert.equal(wrongState.status, 400);

    const deleted = await c.waitForBulk(
      await c.bulk({ action: 'delete', filter: { task: 'flaky', state: 'succeeded' } }),
      { pollMs: 20 },
    );
    assert.ok(deleted.done >= 29, `deleted ${deleted.done}`);
    assert.ok((await api.queue.countJobs({ task: 'flaky' })).succeeded <= 1);
  });
});
