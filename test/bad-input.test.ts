import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { z } from 'zod';
import {
  createQueue,
  createWorker,
  defineTask,
  loadTaskModule,
  OffloadError,
} from '../src/index.ts';
import { createPool } from '../src/pool/index.ts';
import { createServer } from '../src/server/index.ts';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { createPostgresStore } from '../src/store/postgres/postgres-store.ts';
import { makeTempDir } from './helpers/temp.ts';

const temp = makeTempDir('bad-input');
after(() => temp.cleanup());
const file = (name: string) => path.join(temp.dir, name);
const code = (expected: string) => (error: unknown) =>
  error instanceof OffloadError && error.code === expected;

describe('refusing bad input', () => {
  const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });
  const typed = defineTask({
    name: 'typed',
    schema: z.object({ to: z.string().email() }),
    run: async (p) => p.to,
  });

  it('refuses payloads that are not JSON, too large, or against the schema, writing nothing', async () => {
    const store = createSqliteStore({ path: file('payloads.db') });
    const queue = createQueue({ store, tasks: [echo, typed], maxPayloadBytes: 1024 });
    await assert.rejects(queue.enqueue(echo, { f: () => 1 }), /\$\.f is a function/);
    await assert.rejects(queue.enqueue(echo, { n: 10n }), code('ERR_INVALID_PAYLOAD'));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await assert.rejects(queue.enqueue(echo, cycle), /circular/);
    await assert.rejects(
      queue.enqueue(echo, { big: 'x'.repeat(2000) }),
      code('ERR_PAYLOAD_TOO_LARGE'),
    );
    await assert.rejects(
      queue.enqueue(typed, { to: 'not-an-email' }),
      (e: unknown) => code('ERR_INVALID_PAYLOAD')(e) && /to:/.test((e as Error).message),
    );
    await assert.rejects(
      queue.enqueue('nope', {}),
      (e: unknown) => code('ERR_TASK_NOT_FOUND')(e) && /echo, typed/.test((e as Error).message),
    );
    await assert.rejects(queue.enqueue(echo, {}, { delay: -5 }), /`delay` must be 0 or more/);
    await assert.rejects(
      queue.enqueue(echo, {}, { priorty: 1 } as never),
      /unknown option `priorty`, did you mean `priority`\?/,
    );
    await assert.rejects(
      queue.enqueueMany([
        { task: echo, payload: 1 },
        { task: echo, payload: { f: Symbol('s') } },
      ]),
      /item 1/,
    );
    assert.equal((await store.jobList({})).jobs.length, 0, 'nothing half-written');
    await store.close();
  });

  it('refuses a file that is not SQLite, belongs to another application, or is newer', () => {
    fs.writeFileSync(file('garbage.db'), 'this is not a database'.repeat(100));
    assert.throws(() => createSqliteStore({ path: file('garbage.db') }), code('ERR_STORE_CORRUPT'));
    const foreign = new Database(file('foreign.db'));
    foreign.exec('CREATE TABLE invoices (id INTEGER)');
    foreign.close();
    assert.throws(
      () => createSqliteStore({ path: file('foreign.db') }),
      (e: unknown) => code('ERR_STORE_CORRUPT')(e) && /invoices/.test((e as Error).message),
    );
    const store = createSqliteStore({ path: file('newer.db') });
    void store.close();
    const raw = new Database(file('newer.db'));
    raw
      .prepare('INSERT INTO offload_migrations (version, name, applied_at) VALUES (999, ?, 0)')
      .run('from the future');
    raw.close();
    assert.throws(() => createSqliteStore({ path: file('newer.db') }), code('ERR_STORE_TOO_NEW'));
  });

  it('refuses task modules that are missing, throw at load, or export no tasks', async () => {
    await assert.rejects(loadTaskModule(file('missing.ts')), code('ERR_TASK_MODULE'));
    fs.writeFileSync(file('throws.mjs'), 'throw new Error("bad import");\n');
    await assert.rejects(loadTaskModule(file('throws.mjs')), /bad import/);
    fs.writeFileSync(file('empty.mjs'), 'export const x = 1;\n');
    await assert.rejects(loadTaskModule(file('empty.mjs')), /exports no tasks/);
  });

  it('loads a TypeScript task module without a loader', async () => {
    const tasks = await loadTaskModule(path.resolve('examples/quickstart/tasks.ts'));
    assert.deepEqual(tasks.map((t) => t.name).sort(), ['flaky', 'hello', 'report']);
  });
});

describe('refusing numbers no timer or store holds', () => {
  const MAX_TIMER = 2 ** 31 - 1;
  const run = async () => null;
  /** An ERR_INVALID_OPTION naming the option and the timer's maximum. */
  const overTimer = (option: string) => (error: unknown) =>
    code('ERR_INVALID_OPTION')(error) &&
    new RegExp(
      `\`${option.replace('.', '\\.')}\` must be at most 2147483647 ms \\(about 24\\.8 days\\)`,
    ).test((error as Error).message);

  it('takes a task timeout of 2^31-1 ms and refuses 2^31, which Node would fire after 1 ms', () => {
    assert.equal(defineTask({ name: 'long', run, timeout: MAX_TIMER }).timeout, MAX_TIMER);
    assert.throws(
      () => defineTask({ name: 'too-long', run, timeout: 2 ** 31 }),
      overTimer('timeout'),
    );
    assert.throws(
      () => defineTask({ name: 'p', run, priority: 1_000_001 }),
      /`priority` must be a whole number from -1000000 to 1000000/,
    );
    assert.throws(
      () => defineTask({ name: 'a', run, attempts: 1_001 }),
      /`attempts` must be a whole number from 1 to 1000/,
    );
    assert.throws(
      () => defineTask({ name: 'b', run, backoff: 3_155_760_000_001 }),
      code('ERR_INVALID_OPTION'),
    );
    assert.throws(
      () => defineTask({ name: 'c', run, backoff: { maxDelay: 3_155_760_000_001 } }),
      /`backoff.maxDelay` must be at most 3155760000000 ms \(100 years\)/,
    );
  });

  it("refuses a worker's timers above 2^31-1 ms, naming each", () => {
    const store = createSqliteStore({ path: file('worker-timers.db') });
    const task = defineTask({ name: 'noop', run });
    const timers: Array<[string, Record<string, unknown>]> = [
      ['leaseMs', { leaseMs: 2 ** 31 }],
      ['pollInterval', { pollInterval: 2 ** 31 }],
      ['recoveryInterval', { recoveryInterval: 2 ** 31 }],
      ['shutdownGrace', { shutdownGrace: 2 ** 31 }],
      ['retention.interval', { retention: { interval: 2 ** 31 } }],
      ['sliceMs', { sliceMs: 2 ** 31 }],
      ['blockThreshold', { blockThreshold: 2 ** 31 }],
    ];
    for (const [option, options] of timers)
      assert.throws(() => createWorker({ store, tasks: [task], ...options }), overTimer(option));
    assert.ok(
      createWorker({
        store,
        tasks: [task],
        leaseMs: MAX_TIMER,
        pollInterval: MAX_TIMER,
        shutdownGrace: MAX_TIMER,
      }),
    );
    assert.throws(
      () => createWorker({ store, tasks: [task], id: 'host\u0000:1' }),
      /`id` must not contain the NUL character U\+0000/,
    );
    assert.throws(() => createServer({ store, maxWait: 2 ** 31 }), overTimer('maxWait'));
    assert.throws(
      () => createSqliteStore({ path: file('watch.db'), watchInterval: 2 ** 31 }),
      overTimer('watchInterval'),
    );
    void store.close();
  });

  it('refuses pool timers above 2^31-1 ms, in createPool, run() and the browser pool', async () => {
    const module = path.resolve('test/fixtures/pool-tasks.ts');
    for (const option of ['idleTimeout', 'taskTimeout', 'cancelGrace', 'sliceMs']) {
      assert.throws(
        () => createPool({ mode: 'inline', module, [option]: 2 ** 31 }),
        overTimer(option),
      );
    }
    const pool = createPool({ mode: 'inline', module });
    try {
      await assert.rejects(
        pool.run('echo', 1, { timeout: 2 ** 31 }),
        (e: unknown) =>
          code('ERR_INVALID_OPTION')(e) &&
          /`timeout` must be a whole number of milliseconds from 0 to 2147483647/.test(
            (e as Error).message,
          ),
      );
      assert.equal(await pool.run('echo', 1, { timeout: MAX_TIMER }), 1);
    } finally {
      await pool.close();
    }
  });

  it('refuses PostgreSQL store timers above 2^31-1 ms before it connects', async () => {
    await assert.rejects(
      createPostgresStore({ connectionString: 'postgres://127.0.0.1:1/x', pollInterval: 2 ** 31 }),
      overTimer('pollInterval'),
    );
    await assert.rejects(
      createPostgresStore({
        connectionString: 'postgres://127.0.0.1:1/x',
        connectTimeout: 2 ** 31,
      }),
      overTimer('connectTimeout'),
    );
  });
});
