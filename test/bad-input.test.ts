import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { createQueue, createSqliteStore, defineTask, loadTaskModule, OffloadError } from '../src/index.ts';
import { makeTempDir } from './helpers/temp.ts';

const temp = makeTempDir('bad-input');
after(() => temp.cleanup());
const file = (name: string) => path.join(temp.dir, name);
const code = (expected: string) => (error: unknown) => error instanceof OffloadError && error.code === expected;

describe('refusing bad input', () => {
  const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });
  const typed = defineTask({ name: 'typed', schema: z.object({ to: z.string().email() }), run: async (p) => p.to });

  it('refuses payloads that are not JSON, too large, or against the schema, writing nothing', async () => {
    const store = createSqliteStore({ path: file('payloads.db') });
    const queue = createQueue({ store, tasks: [echo, typed], maxPayloadBytes: 1024 });
    await assert.rejects(queue.enqueue(echo, { f: () => 1 }), /\$\.f is a function/);
    await assert.rejects(queue.enqueue(echo, { n: 10n }), code('ERR_INVALID_PAYLOAD'));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await assert.rejects(queue.enqueue(echo, cycle), /circular/);
    await assert.rejects(queue.enqueue(echo, { big: 'x'.repeat(2000) }), code('ERR_PAYLOAD_TOO_LARGE'));
    await assert.rejects(queue.enqueue(typed, { to: 'not-an-email' }), (e: unknown) => code('ERR_INVALID_PAYLOAD')(e) && /to:/.test((e as Error).message));
    await assert.rejects(queue.enqueue('nope', {}), (e: unknown) => code('ERR_TASK_NOT_FOUND')(e) && /echo, typed/.test((e as Error).message));
    await assert.rejects(queue.enqueue(echo, {}, { delay: -5 }), /`delay` must be 0 or more/);
    await assert.rejects(queue.enqueue(echo, {}, { priorty: 1 } as never), /unknown option `priorty`, did you mean `priority`\?/);
    await assert.rejects(queue.enqueueMany([{ task: echo, payload: 1 }, { task: echo, payload: { f: Symbol('s') } }]), /item 1/);
    assert.equal((await store.jobList({})).jobs.length, 0, 'nothing half-written');
    await store.close();
  });

  it('refuses a file that is not SQLite, belongs to another application, or is newer', () => {
    fs.writeFileSync(file('garbage.db'), 'this is not a database'.repeat(100));
    assert.throws(() => createSqliteStore({ path: file('garbage.db') }), code('ERR_STORE_CORRUPT'));
    const foreign = new Database(file('foreign.db'));
    foreign.exec('CREATE TABLE invoices (id INTEGER)');
    foreign.close();
    assert.throws(() => createSqliteStore({ path: file('foreign.db') }), (e: unknown) => code('ERR_STORE_CORRUPT')(e) && /invoices/.test((e as Error).message));
    const store = createSqliteStore({ path: file('newer.db') });
    void store.close();
    const raw = new Database(file('newer.db'));
    raw.prepare('INSERT INTO offload_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from the future');
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
