/** Values that JSON would change still cross a process pool exactly (its channel runs in json mode). */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Pool } from '../../src/pool/contract.ts';
import type { ChildMessage, ParentMessage } from '../../src/pool/shared/protocol.ts';
import { fixturePool } from './contract.ts';

let pool: Pool;
before(async () => {
  pool = fixturePool('process', { minWorkers: 1, maxWorkers: 1 });
  await pool.ready();
});
after(() => pool.destroy());

it('plain JSON data and undefined results cross unchanged', async () => {
  const plain = {
    name: 'ü ✓ \ud83d\ude00',
    list: [1, 2.5, -3, null, true, 'x'],
    nested: { deep: [{ a: [] }] },
  };
  assert.deepEqual(await pool.run('echo', plain), plain);
  assert.equal(await pool.run('echo', undefined), undefined);
  assert.equal(await pool.run('echo', 0), 0);
});

it('values JSON would alter keep their structured-clone form', async () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const holes = [1, 2, 3];
  delete holes[1];
  const cases: unknown[] = [
    NaN,
    -0,
    Infinity,
    12n,
    { missing: undefined },
    [undefined, 1],
    holes,
    Buffer.from('bytes'),
    new Uint16Array([1, 2, 3]),
    new Date(5),
    new Map([['k', new Set([1])]]),
    /re/g,
  ];
  for (const value of cases)
    assert.deepEqual(await pool.run('echo', value), value, `for ${String(value)}`);
  const back = (await pool.run('echo', cyclic)) as Record<string, unknown>;
  assert.equal(back.self, back);
  const sparse = (await pool.run('echo', holes)) as unknown[];
  assert.equal(1 in sparse, false);
  assert.ok(Object.hasOwn((await pool.run('echo', { missing: undefined })) as object, 'missing'));
});

it('a large plain payload crosses whole', async () => {
  const rows = Array.from({ length: 50_000 }, (_, i) => ({ i, label: `row ${i}` }));
  assert.deepEqual(await pool.run('echo', rows), rows);
});

it('the messages of every task go as compact arrays and come back as they were', async () => {
  const { fromProcessWire, toProcessWire } = await import('../../src/pool/process-wire.ts');
  const run: ParentMessage = {
    t: 'run',
    tasks: [
      { id: 1, task: 'echo', payload: undefined, timeout: -1, job: undefined },
      {
        id: 2,
        task: 'echo',
        payload: null,
        timeout: 50,
        job: { id: '7', task: 'echo', queue: 'q', attempt: 1, maxAttempts: 3 },
      },
      { id: 3, task: 'echo', payload: { list: [1, 'two', null] }, timeout: 0, job: undefined },
    ],
  };
  const done: ChildMessage = {
    t: 'done',
    replies: [
      { id: 1, ok: true, value: undefined, runMs: 0.5 },
      { id: 2, ok: true, value: null, runMs: 1 },
      {
        id: 3,
        ok: false,
        error: {
          name: 'Error',
          message: 'boom',
          stack: 'Error: boom',
          code: 'E_BOOM',
          props: { extra: 1 },
        },
        runMs: 2,
      },
    ],
    progress: [[4, { p: 50 }]],
    heapUsed: 1234,
  };
  const bare: ChildMessage = { ...done, progress: undefined, heapUsed: undefined };
  for (const message of [run, done, bare]) {
    const wire = toProcessWire(message);
    assert.ok(Array.isArray(wire), `${message.t} goes as an array`);
    assert.deepEqual(fromProcessWire(JSON.parse(JSON.stringify(wire))), message);
  }
  const cannotJson: ParentMessage = {
    t: 'run',
    tasks: [{ id: 1, task: 'echo', payload: new Date(1), timeout: -1, job: undefined }],
  };
  assert.deepEqual(
    fromProcessWire(JSON.parse(JSON.stringify(toProcessWire(cannotJson)))),
    cannotJson,
    'what JSON would change still goes structured',
  );
});
