import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import { createQueue } from '../../src/queue/queue.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { makeTempDir } from '../helpers/temp.ts';

const temp = makeTempDir('enqueue-options');
const store = createSqliteStore({ path: path.join(temp.dir, 'jobs.db') });
after(async () => {
  await store.close();
  temp.cleanup();
});
const report = defineTask({
  name: 'report',
  run: async (payload: { month: string }) => payload.month,
});
const other = defineTask({ name: 'other', run: async () => null });
const queue = createQueue({ store, tasks: [report, other] });
const invalid = (option: string, pattern: RegExp) => (e: unknown) =>
  e instanceof OffloadError &&
  e.code === 'ERR_INVALID_OPTION' &&
  e.details['option'] === option &&
  pattern.test(e.message);

describe('enqueue options: callbackUrl and idempotencyKey', () => {
  it('keeps a valid callback URL on the job', async () => {
    const job = await queue.enqueue(
      report,
      { month: '2030-01' },
      { callbackUrl: 'https://example.com/hooks?a=1' },
    );
    assert.equal(job.callbackUrl, 'https://example.com/hooks?a=1');
    assert.equal((await queue.getJob(job.id))?.callbackUrl, 'https://example.com/hooks?a=1');
  });

  it('refuses callback URLs that are not absolute http(s)', async () => {
    for (const bad of [
      '/relative',
      'example.com/hook',
      'ftp://example.com/x',
      'javascript:alert(1)',
      '',
      `https://example.com/${'a'.repeat(2100)}`,
    ]) {
      await assert.rejects(
        queue.enqueue(report, { month: 'x' }, { callbackUrl: bad }),
        invalid('callbackUrl', /enqueue: option `callbackUrl` must be/),
        bad.slice(0, 30),
      );
    }
  });

  it('refuses idempotency keys that are empty or longer than 255 characters', async () => {
    await assert.rejects(
      queue.enqueue(report, { month: 'x' }, { idempotencyKey: '' }),
      invalid('idempotencyKey', /1-255 characters/),
    );
    await assert.rejects(
      queue.enqueue(report, { month: 'x' }, { idempotencyKey: 'k'.repeat(256) }),
      invalid('idempotencyKey', /1-255 characters/),
    );
    assert.equal(
      (await queue.enqueueWithResult(report, { month: 'x' }, { idempotencyKey: 'k'.repeat(255) }))
        .created,
      true,
    );
  });

  it('says whether a job is new: 202 for a new one, 200 for a replay', async () => {
    const first = await queue.enqueueWithResult(
      report,
      { month: '2030-02' },
      { idempotencyKey: 'req-42' },
    );
    const again = await queue.enqueueWithResult(
      'report',
      { month: '2030-02' },
      { idempotencyKey: 'req-42' },
    );
    assert.deepEqual([first.created, again.created, again.job.id], [true, false, first.job.id]);
    assert.deepEqual(again.job.payload, { month: '2030-02' });
    const plain = await queue.enqueue(report, { month: '2030-02' }, { idempotencyKey: 'req-42' });
    assert.equal(plain.id, first.job.id);
    await assert.rejects(
      queue.enqueue(other, {}, { idempotencyKey: 'req-42' }),
      (e: unknown) =>
        e instanceof OffloadError &&
        e.code === 'ERR_IDEMPOTENCY_CONFLICT' &&
        /task "other"/.test(e.message),
    );
    const many = await queue.enqueueManyWithResult([
      { task: report, payload: { month: '2030-02' }, options: { idempotencyKey: 'req-42' } },
      {
        task: report,
        payload: { month: '2030-03' },
        options: { idempotencyKey: 'req-43', callbackUrl: 'http://127.0.0.1:9/x' },
      },
    ]);
    assert.deepEqual(
      many.map((r) => r.created),
      [false, true],
    );
    assert.equal(many[1]!.job.callbackUrl, 'http://127.0.0.1:9/x');
    await assert.rejects(
      queue.enqueueMany([
        { task: report, payload: { month: 'x' }, options: { callbackUrl: 'nope' } },
      ]),
      (e: unknown) =>
        e instanceof OffloadError && /enqueueMany: item 0: .*callbackUrl/.test(e.message),
    );
  });

  it('validates the worker webhook secret', () => {
    assert.throws(
      () => createWorker({ store, tasks: [report], webhookSecret: 'short' }),
      invalid('webhookSecret', /at least 16 characters/),
    );
  });
});
