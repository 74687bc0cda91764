import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../src/store/contract.ts';
import { createSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { makeTempDir } from './helpers/temp.ts';

const run = promisify(execFile);
type Output = { code: number; stdout: string; stderr: string };

/** `offload limits`, `limits set`, `limits clear` and the limits in `offload queues`, through the built CLI on a SQLite file. */
describe('offload limits and queues (built dist, sqlite)', () => {
  let db: string;
  let cleanup: () => void;
  let store: Store;
  const cli = (...args: string[]) =>
    run(process.execPath, [path.resolve('dist/cli/main.js'), '--db', db, ...args]).then(
      (output) => ({ code: 0, ...output }),
      (error: Output) => error,
    ) as Promise<Output>;
  const enqueue = (queue: string, key: string | null) =>
    store.jobEnqueue({
      task: 'report',
      queue,
      payload: '{}',
      priority: 0,
      runAt: Date.now() - 1,
      maxAttempts: 1,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
      key,
    });

  before(async () => {
    const temp = makeTempDir('cli-limits');
    cleanup = temp.cleanup;
    db = path.join(temp.dir, 'jobs.db');
    store = createSqliteStore({ path: db });
  });
  after(async () => {
    await store?.close();
    cleanup?.();
  });

  test('limits set stores the runtime limits from the flags; limits <queue> --json reads them back', async () => {
    const set = await cli(
      'limits',
      'set',
      'tenants',
      '--concurrency',
      '2',
      '--key-concurrency',
      '1',
      '--override',
      'acme=3',
      '--override',
      'big=co=5',
      '--rate',
      '50/1h',
      '--key-rate',
      '10/h',
    );
    assert.equal(set.code, 0, set.stderr);
    assert.match(
      set.stdout,
      /runtime limits of tenants set: concurrency 2 · per key 1 \(acme 3, big=co 5\) · rate 50\/1h · key rate 10\/1h/,
    );
    const limits = {
      concurrency: 2,
      keyConcurrency: 1,
      keyOverrides: { acme: 3, 'big=co': 5 },
      rate: { limit: 50, per: 3_600_000 },
      keyRate: { limit: 10, per: 3_600_000 },
    };
    assert.deepEqual((await store.limitsGet({ queue: 'tenants' }))?.runtime, limits);
    const shown = await cli('limits', 'tenants', '--json');
    assert.equal(shown.code, 0, shown.stderr);
    const state = JSON.parse(shown.stdout);
    assert.deepEqual(state.limits, limits);
    assert.equal(state.declared, null);
    assert.deepEqual(state.tokens, { left: 50, nextAt: null });
  });

  test('queues and limits print the limits, running per limit, tokens left, held-back jobs and the busiest keys', async () => {
    for (const key of ['acme', 'acme', 'globex', 'initech']) await enqueue('tenants', key);
    await enqueue('plain', null);
    const claimed = await store.jobClaim({
      workerId: 'w',
      queues: [{ name: 'tenants', limit: 10 }],
      tasks: ['report'],
      leaseMs: 60_000,
    });
    assert.equal(claimed.length, 2);

    const queues = await cli('queues');
    assert.equal(queues.code, 0, queues.stderr);
    assert.match(queues.stdout, /^plain +active +0 +1 /m);
    assert.match(queues.stdout, /^tenants +limited +0 +2 +0 +2 /m);
    assert.match(queues.stdout, /^tenants +concurrency 2 · per key 1 .* \(set at runtime\)$/m);
    assert.match(queues.stdout, /^ +running 2\/2 · tokens 48\/50 left · held back 2$/m);
    assert.match(queues.stdout, /^ +keys: acme 2\/3$/m, 'acme has an override of 3');

    const json = JSON.parse((await cli('queues', '--json')).stdout);
    const tenants = json.find((q: { name: string }) => q.name === 'tenants');
    assert.equal(tenants.limits.running, 2);
    assert.equal(json.find((q: { name: string }) => q.name === 'plain').limits, null);

    const report = await cli('limits', 'tenants');
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^running +2 of 2$/m);
    assert.match(report.stdout, /^tokens +48\/50 left$/m);
    assert.match(report.stdout, /^held back +2 due jobs$/m);
    assert.match(report.stdout, /^KEY +RUNNING +LIMIT +TOKENS +HELD UNTIL$/m);
    assert.match(report.stdout, /^acme +2 +3 +8\/10 left +-$/m);

    const all = await cli('limits');
    assert.match(all.stdout, /^tenants +concurrency 2/m);
  });

  test('bad flags are refused with exit code 1 and the flag named, and nothing is stored', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--concurrency', '0'], /--concurrency takes a whole number from 1 to 1000000, got "0"/],
      [
        ['--rate', '5000/1ms'],
        /--rate: `rate.per` must be .* from 10 ms to 7 days \[ERR_INVALID_OPTION\]/,
      ],
      [['--rate', '20000/1s'], /--rate: `rate.limit` must be a whole number from 1 to 10000/],
      [['--rate', 'fast'], /--rate takes n\/window/],
      [['--key-rate', '10/1x'], /--key-rate: `keyRate.per` must be/],
      [['--override', 'acme'], /--override takes key=n/],
      [['--override', 'acme=0'], /--override: `keyOverrides.acme` must be a whole number from 1/],
      [['--order', 'loose'], /--order: `order` must be 'fair' or 'strict'/],
      [
        ['--concurrency', '2', '--none'],
        /--none lifts every limit, so it takes no other limit flag/,
      ],
      [[], /give at least one limit: --concurrency/],
      [['--concurency', '2'], /unknown option '--concurency'/],
    ];
    for (const [flags, message] of cases) {
      const answer = await cli('limits', 'set', 'refused', ...flags);
      assert.equal(answer.code, 1, `${flags.join(' ')}: ${answer.stdout}`);
      assert.match(answer.stderr, message, flags.join(' '));
    }
    assert.equal(await store.limitsGet({ queue: 'refused' }), undefined);
    const missing = await cli('limits', 'refused');
    assert.equal(missing.code, 0);
    assert.match(
      missing.stdout,
      /queue refused has no limits: set some with `offload limits set refused/,
    );
    assert.equal((await cli('limits', 'refused', '--json')).stdout.trim(), 'null');
  });

  test('limits clear drops the runtime layer: the declared limits apply again, or none', async () => {
    await store.limitsSet({ queue: 'reports', layer: 'declared', limits: { concurrency: 4 } });
    assert.equal((await cli('limits', 'set', 'reports', '--none')).code, 0);
    assert.deepEqual((await store.limitsGet({ queue: 'reports' }))?.runtime, {});
    const cleared = await cli('limits', 'clear', 'reports');
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /its declared limits apply: concurrency 4/);
    assert.equal((await store.limitsGet({ queue: 'reports' }))?.runtime, null);

    const strict = await cli('limits', 'set', 'brief', '--order', 'strict');
    assert.match(strict.stdout, /runtime limits of brief set: strict order/);
    const fair = await cli('limits', 'set', 'rotating', '--order', 'fair');
    assert.match(fair.stdout, /runtime limits of rotating set: fair order/);
    assert.deepEqual((await store.limitsGet({ queue: 'rotating' }))?.limits, { order: 'fair' });
    const gone = await cli('limits', 'clear', 'brief');
    assert.match(gone.stdout, /runtime limits of brief cleared; it has no limits now/);
    assert.equal(await store.limitsGet({ queue: 'brief' }), undefined);
  });
});
