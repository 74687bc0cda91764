import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { OffloadError } from '../../src/core/errors.ts';
import { MAX_RATE_LIMITED_MS } from '../../src/core/limits.ts';
import {
  isRateLimited,
  RateLimited,
  rateLimitedHold,
  rateLimitedRunAt,
} from '../../src/core/rate-limited.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { defineTask } from '../../src/task/define-task.ts';
import type { Task, TaskDefinition } from '../../src/task/task.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { makeTempDir } from '../helpers/temp.ts';

const run = () => null;
const byAccount = (payload: { account: string }) => payload.account;

/** Asserts `fn` throws an OffloadError with `code` whose message matches every pattern. */
function throwsCode(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof OffloadError, `an OffloadError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

async function rejectsCode(
  promise: Promise<unknown>,
  code: string,
  ...patterns: RegExp[]
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OffloadError, `an OffloadError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

const define = (options: Partial<TaskDefinition<{ account: string }, unknown>>) =>
  defineTask({ name: 'flowing', run, ...options } as TaskDefinition<{ account: string }, unknown>);

describe('defineTask: concurrency, rateLimit and order', () => {
  it('maps the options to the queue limits and exposes the key function', () => {
    const task = define({
      concurrency: { limit: 2, key: byAccount, global: 50, overrides: { big: 10 } },
      rateLimit: { limit: 100, per: '1m', key: byAccount },
      order: 'strict',
    });
    assert.equal(task.key, byAccount);
    assert.deepEqual(task.limits, {
      keyConcurrency: 2,
      concurrency: 50,
      keyOverrides: { big: 10 },
      keyRate: { limit: 100, per: 60_000 },
      order: 'strict',
    });
    assert.deepEqual(define({ rateLimit: { limit: 5, per: 1000 } }).limits, {
      rate: { limit: 5, per: 1000 },
    });
  });

  it('has neither a key nor limits by default; a key alone asks for fair rotation', () => {
    const plain = define({});
    assert.equal(plain.key, undefined);
    assert.equal(plain.limits, undefined);
    const keyed = define({ concurrency: { key: byAccount } });
    assert.equal(keyed.key, byAccount);
    assert.deepEqual(keyed.limits, { order: 'fair' });
  });

  it('refuses per-key limits and strict order without a key function', () => {
    throwsCode(
      () => define({ concurrency: { limit: 2 } }),
      'ERR_INVALID_OPTION',
      /task "flowing"/,
      /`concurrency\.limit`/,
      /key function/,
    );
    throwsCode(
      () => define({ concurrency: { overrides: { a: 1 } } }),
      'ERR_INVALID_OPTION',
      /`concurrency\.overrides`/,
    );
    throwsCode(
      () => define({ order: 'strict' }),
      'ERR_INVALID_OPTION',
      /task "flowing"/,
      /`order`/,
    );
  });

  it('refuses two different key functions: a job has one flow key', () => {
    throwsCode(
      () =>
        define({
          concurrency: { limit: 1, key: byAccount },
          rateLimit: { limit: 1, per: '1s', key: (payload) => payload.account },
        }),
      'ERR_INVALID_OPTION',
      /task "flowing"/,
      /`rateLimit\.key`/,
      /same function/,
      /one flow key/,
    );
  });

  it('names the task and the field of a bad number, window, order or unknown field', () => {
    const cases: Array<[Partial<TaskDefinition<{ account: string }, unknown>>, RegExp]> = [
      [
        { concurrency: { limit: 0, key: byAccount } },
        /`concurrency\.limit` must be a whole number/,
      ],
      [{ concurrency: { global: 1.5 } }, /`concurrency\.global` must be a whole number/],
      [{ concurrency: { key: byAccount, overrides: { a: -1 } } }, /`concurrency\.overrides\.a`/],
      [{ rateLimit: { limit: 5, per: 'soon' } }, /`rateLimit\.per` must be milliseconds/],
      [{ rateLimit: { limit: 0, per: '1s' } }, /`rateLimit\.limit`/],
      [
        { rateLimit: { limit: 50_000, per: '1s' } },
        /`rateLimit\.limit` must be a whole number from 1 to 10000/,
      ],
      [
        { order: 'loose' as 'strict', concurrency: { key: byAccount } },
        /`order` must be 'fair' or 'strict'/,
      ],
      [
        { concurrency: { limti: 2 } as never },
        /`concurrency\.limti`.*did you mean `concurrency\.limit`/,
      ],
      [{ concurrency: { key: 'account' } as never }, /`concurrency\.key` must be a function/],
      [{ rateLimit: 5 as never }, /`rateLimit` must be an object/],
    ];
    for (const [options, pattern] of cases)
      throwsCode(() => define(options), 'ERR_INVALID_OPTION', /task "flowing"/, pattern);
  });
});

describe('ctx.rateLimited: retryAfter', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');

  it('takes milliseconds, durations in words and Dates', () => {
    assert.deepEqual(rateLimitedHold(1500, now), { delayMs: 1500 });
    assert.deepEqual(rateLimitedHold(0.4, now), { delayMs: 1 });
    assert.deepEqual(rateLimitedHold('30s', now), { delayMs: 30_000 });
    assert.deepEqual(rateLimitedHold(MAX_RATE_LIMITED_MS, now), { delayMs: MAX_RATE_LIMITED_MS });
    assert.deepEqual(rateLimitedHold(new Date(now + 5000), now), { until: now + 5000 });
    assert.deepEqual(rateLimitedHold(new Date(now - 5000), now), { until: now - 5000 });
    const error = new RateLimited('2s');
    assert.equal(error.name, 'RateLimited');
    assert.equal(error.delayMs, 2000);
  });

  it('knows a RateLimited rebuilt from a thread by its fields, not by its name alone', () => {
    const named = (fields: object) =>
      Object.assign(new Error('429'), { name: 'RateLimited' }, fields);
    assert.equal(isRateLimited(new RateLimited(10)), true);
    assert.equal(isRateLimited(named({ delayMs: 10 })), true);
    assert.equal(isRateLimited(named({ until: now })), true);
    assert.equal(isRateLimited(named({})), false, "another library's RateLimited fails the run");
    assert.equal(rateLimitedRunAt({ delayMs: 250 }, now), now + 250);
    assert.equal(rateLimitedRunAt({ until: now + 99 }, now), now + 99);
    assert.equal(rateLimitedRunAt({ until: now - 99 }, now), now);
    assert.equal(
      rateLimitedRunAt({ until: now + 2 * MAX_RATE_LIMITED_MS }, now),
      now + MAX_RATE_LIMITED_MS,
    );
  });

  it('refuses nothing, negative, too long or unreadable waits with ERR_INVALID_OPTION', () => {
    for (const bad of [
      0,
      -5,
      Number.NaN,
      Infinity,
      MAX_RATE_LIMITED_MS + 1,
      '8d',
      '0s',
      'soon',
      null,
      undefined,
      new Date(Number.NaN),
      new Date(now + MAX_RATE_LIMITED_MS + 1),
    ])
      throwsCode(
        () => rateLimitedHold(bad, now),
        'ERR_INVALID_OPTION',
        /ctx\.rateLimited: retryAfter/,
      );
  });
});

describe('enqueue: flow keys', () => {
  const { dir, cleanup } = makeTempDir('flow-keys');
  let store: Store;
  let queue: Queue;
  const keyed = defineTask({
    name: 'keyed',
    schema: z.object({ account: z.string().transform((account) => account.toLowerCase()) }),
    concurrency: { limit: 2, key: (payload) => `acct:${payload.account}` },
    run,
  });
  const calls: unknown[] = [];
  const misbehaving = defineTask({
    name: 'misbehaving',
    concurrency: {
      limit: 1,
      key: (payload: { returns?: unknown; throws?: boolean; later?: boolean }) => {
        calls.push(payload);
        if (payload.throws) throw new Error('no account on this payload');
        if (payload.later) return Promise.resolve('late') as unknown as string;
        return payload.returns as string;
      },
    },
    run,
  });
  before(() => {
    store = createSqliteStore({ path: path.join(dir, 'keys.db') });
    queue = createQueue({ store, tasks: [keyed, misbehaving] as unknown as Task[] });
  });
  after(async () => {
    await store.close();
    cleanup();
  });
  const total = async () =>
    Object.values(await queue.countJobs()).reduce((sum, count) => sum + count, 0);

  it("keys a job by the task's key function, on the payload as the schema made it", async () => {
    const job = await queue.enqueue(keyed, { account: 'ACME' });
    assert.equal(job.key, 'acct:acme');
    assert.equal((await queue.getJob(job.id))?.key, 'acct:acme');
  });

  it('takes an explicit key over the function, and checks it', async () => {
    const job = await queue.enqueue(keyed, { account: 'acme' }, { key: 'tenant-7' });
    assert.equal(job.key, 'tenant-7');
    await rejectsCode(
      queue.enqueue(keyed, { account: 'acme' }, { key: '' }),
      'ERR_INVALID_OPTION',
      /`key` must be 1-500 characters/,
    );
    await rejectsCode(
      queue.enqueue(keyed, { account: 'acme' }, { key: 5 as unknown as string }),
      'ERR_INVALID_OPTION',
      /`key` must be a string/,
    );
  });

  it('refuses a payload the key function throws on or gives no usable key, storing nothing', async () => {
    const before = await total();
    const cases: Array<[object, RegExp]> = [
      [{ throws: true }, /threw: no account on this payload/],
      [{ returns: 42 }, /returned number 42/],
      [{ returns: '' }, /returned an empty string/],
      [{ returns: undefined }, /returned undefined/],
      [{ returns: 'x'.repeat(501) }, /returned a string of 501 characters.*1-500 characters/],
      [{ returns: 'a\u0000b' }, /NUL/],
      [{ later: true }, /a Promise/],
    ];
    for (const [payload, pattern] of cases)
      await rejectsCode(
        queue.enqueue(misbehaving, payload),
        'ERR_INVALID_KEY',
        /task "misbehaving"/,
        pattern,
      );
    await rejectsCode(
      queue.enqueueMany([
        { task: misbehaving, payload: { returns: 'fine' } },
        { task: misbehaving, payload: { throws: true } },
      ]),
      'ERR_INVALID_KEY',
      /item 1/,
    );
    assert.equal(await total(), before, 'nothing was stored');
  });

  it('enqueues by name without the definition with the explicit key only', async () => {
    await store.taskRegister({
      tasks: [
        { name: 'remote', queue: 'default', mode: 'inline', attempts: 3, priority: 0, timeout: 0 },
      ],
    });
    const bare = createQueue({ store });
    assert.equal((await bare.enqueue('remote', {})).key, null);
    assert.equal((await bare.enqueue('remote', {}, { key: 'k1' })).key, 'k1');
    calls.length = 0;
    await store.taskRegister({
      tasks: [
        {
          name: 'misbehaving',
          queue: 'default',
          mode: 'inline',
          attempts: 3,
          priority: 0,
          timeout: 0,
        },
      ],
    });
    assert.equal((await bare.enqueue('misbehaving', { throws: true })).key, null);
    assert.deepEqual(calls, [], 'a queue without the definition calls no key function');
  });
});

describe('createWorker: limits declared by tasks', () => {
  const { dir, cleanup } = makeTempDir('flow-declared');
  let store: Store;
  before(() => {
    store = createSqliteStore({ path: path.join(dir, 'declared.db') });
  });
  after(async () => {
    await store.close();
    cleanup();
  });
  const task = (name: string, options: Partial<TaskDefinition<{ account: string }, unknown>>) =>
    defineTask({ name, queue: 'shared', run, ...options } as TaskDefinition<
      { account: string },
      unknown
    >) as unknown as Task;

  it('refuses two tasks of one queue declaring different limits, naming both and the queue', () => {
    throwsCode(
      () =>
        createWorker({
          store,
          tasks: [
            task('first', { concurrency: { limit: 2, key: byAccount } }),
            task('second', { concurrency: { limit: 3, key: byAccount } }),
          ],
        }),
      'ERR_INVALID_OPTION',
      /"first" and "second"/,
      /queue "shared"/,
    );
  });

  it('lets tasks that declare nothing, or the same limits, share a queue', () => {
    createWorker({
      store,
      tasks: [
        task('limited', { concurrency: { key: byAccount, overrides: { a: 1, b: 2 } } }),
        task('same', { concurrency: { key: byAccount, overrides: { b: 2, a: 1 } } }),
        task('free', {}),
        task('elsewhere', { queue: 'other', concurrency: { global: 9 } }),
      ],
    });
  });
});

describe('HTTP: POST /v1/jobs takes a flow key', () => {
  let api: ApiHarness;
  const keyed = defineTask({
    name: 'http-keyed',
    concurrency: { limit: 1, key: (payload: { account: string }) => payload.account },
    run,
  });
  before(async () => {
    api = await startApi([keyed as unknown as Task], { worker: false });
  });
  after(() => api.close());

  it("keys by the body's key, else the task's key function; shows the key; refuses a bad one", async () => {
    const explicit = await api.call('POST', '/v1/jobs', {
      task: keyed.name,
      payload: { account: 'acme' },
      key: 'tier-1',
    });
    assert.equal(explicit.status, 202);
    assert.equal(explicit.body.key, 'tier-1');
    const derived = await api.call('POST', '/v1/jobs', {
      task: keyed.name,
      payload: { account: 'acme' },
    });
    assert.equal(derived.body.key, 'acme');
    assert.equal((await api.call('GET', `/v1/jobs/${derived.body.id}`)).body.key, 'acme');
    const empty = await api.call('POST', '/v1/jobs', {
      task: keyed.name,
      payload: { account: 'acme' },
      key: '',
    });
    assert.equal(empty.status, 400);
    assert.match(empty.body.detail, /body\.key/);
    const keyless = await api.call('POST', '/v1/jobs', { task: keyed.name, payload: {} });
    assert.equal(keyless.status, 422);
    assert.equal(keyless.body.code, 'ERR_INVALID_KEY');
  });
});
