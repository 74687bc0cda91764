import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../src/store/contract.ts';
import { openStore } from '../src/store/open-store.ts';
import { cliStores, runCli } from './helpers/cli-stores.ts';

const tasks = path.resolve('test/fixtures/api-tasks.ts');

/**
 * `offload jobs update` and `offload jobs remove` through the built CLI against both stores (the
 * PostgreSQL run gets a database of its own: the CLI uses the schema `offload`).
 */
const stores = cliStores('cli_edit');

for (const { name, setUp } of stores) {
  describe(`offload jobs update and remove (built dist, ${name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    let store: Store;
    const cli = (...args: string[]) => runCli(db, ...args);
    const enqueue = async (queue = 'default') =>
      (
        await store.jobEnqueue({
          task: 'greet',
          queue,
          payload: '{"name":"ada"}',
          priority: 0,
          runAt: Date.now() + 3_600_000,
          maxAttempts: 1,
          timeoutMs: 0,
          uniqueKey: null,
          idempotencyKey: null,
          callbackUrl: null,
        })
      ).job;

    before(async () => {
      ({ db, tearDown } = await setUp());
      store = await openStore(db);
    });
    after(async () => {
      await store?.close();
      await tearDown?.();
    });

    it('updates run-at, delay, priority and payload, and the store shows the change', async () => {
      const job = await enqueue();
      const out = await cli(
        'jobs',
        'update',
        job.id,
        '--run-at',
        '2030-01-02T03:04:05.000Z',
        '--priority',
        '7',
        '--payload',
        '{"name":"bob"}',
        '--tasks',
        tasks,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.equal(
        out.stdout.trim(),
        `job ${job.id} updated: scheduled, run at 2030-01-02T03:04:05.000Z, priority 7`,
      );
      const read = await store.jobGet({ id: job.id });
      assert.equal(read?.runAt, Date.parse('2030-01-02T03:04:05.000Z'));
      assert.equal(read?.priority, 7);
      assert.deepEqual(read?.payload, { name: 'bob' });

      const before = Date.now();
      const json = await cli('jobs', 'update', job.id, '--delay', '5m', '--json');
      assert.equal(json.code, 0, json.stderr);
      const runAt = (JSON.parse(json.stdout) as { runAt: number }).runAt;
      assert.ok(runAt >= before + 300_000 && runAt <= Date.now() + 300_000);
    });

    it('refuses a payload that fails the task schema, and changes nothing', async () => {
      const job = await enqueue();
      const out = await cli(
        'jobs',
        'update',
        job.id,
        '--payload',
        '{"name":""}',
        '--priority',
        '3',
        '--tasks',
        tasks,
      );
      assert.equal(out.code, 1);
      assert.match(
        out.stderr,
        /payload for task "greet" does not match its schema: name: .*\[ERR_INVALID_PAYLOAD\]/,
      );
      const read = await store.jobGet({ id: job.id });
      assert.deepEqual(read?.payload, { name: 'ada' });
      assert.equal(read?.priority, 0);
    });

    it('removes a waiting job and an ended one', async () => {
      const waiting = await enqueue();
      const out = await cli('jobs', 'remove', waiting.id);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), `job ${waiting.id} removed (it was scheduled)`);
      assert.equal(await store.jobGet({ id: waiting.id }), undefined);
      const ended = await enqueue();
      await store.jobCancel({ id: ended.id });
      const json = await cli('jobs', 'remove', ended.id, '--json');
      assert.equal((JSON.parse(json.stdout) as { state: string }).state, 'cancelled');
      assert.equal(await store.jobGet({ id: ended.id }), undefined);
    });

    it('refuses a running job, an unknown id and bad flags with exit code 1 and the fix', async () => {
      const running = await enqueue('cli-running');
      await store.jobUpdate({ id: running.id, runAt: Date.now() - 1 });
      await store.jobClaim({
        workerId: 'w',
        queues: [{ name: 'cli-running', limit: 1 }],
        tasks: ['greet'],
        leaseMs: 60_000,
      });
      for (const args of [
        ['update', running.id, '--priority', '1'],
        ['remove', running.id],
      ]) {
        const out = await cli('jobs', ...args);
        assert.equal(out.code, 1, args.join(' '));
        assert.match(
          out.stderr,
          new RegExp(
            `job ${running.id} is running; only .* jobs can be (updated|removed); see it with \`offload job ${running.id}\` \\[ERR_JOB_STATE\\]`,
          ),
        );
      }
      assert.equal((await store.jobGet({ id: running.id }))?.state, 'running');
      const missing = await cli('jobs', 'remove', '987654');
      assert.equal(missing.code, 1);
      assert.equal(
        missing.stderr,
        'offload: no job with id 987654; list jobs with `offload jobs` [ERR_JOB_NOT_FOUND]\n',
      );
      const nothing = await cli('jobs', 'update', running.id);
      assert.equal(nothing.code, 1);
      assert.match(
        nothing.stderr,
        /nothing to change: pass --run-at, --delay, --priority or --payload/,
      );
      for (const [flag, value] of [
        ['--delay', 'soon'],
        ['--run-at', 'someday'],
        ['--priority', '1.5'],
        ['--payload', '{nope'],
      ]) {
        const bad = await cli('jobs', 'update', running.id, flag!, value!);
        assert.equal(bad.code, 1, `${flag} ${value}`);
        assert.match(bad.stderr, new RegExp(`${flag}`));
      }
    });
  });
}
