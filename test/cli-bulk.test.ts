import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../src/store/contract.ts';
import { openStore } from '../src/store/open-store.ts';
import { failJobs } from './helpers/failed-jobs.ts';
import { cliStores, runCli } from './helpers/cli-stores.ts';

/**
 * `offload jobs retry|cancel|delete` and `offload dead-letters` through the built CLI against both
 * stores (the PostgreSQL run gets a database of its own: the CLI uses the schema `offload`).
 */
const stores = cliStores('cli_bulk');

for (const { name, setUp } of stores) {
  describe(`offload jobs retry|cancel|delete and dead-letters (built dist, ${name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    let store: Store;
    const cli = (...args: string[]) => runCli(db, ...args);

    before(async () => {
      ({ db, tearDown } = await setUp());
      store = await openStore(db);
    });
    after(async () => {
      await store?.close();
      await tearDown?.();
    });

    it('prints the count and refuses without --yes, changing nothing; --yes retries them', async () => {
      await failJobs(store, { n: 3, task: 'sync' });
      const refused = await cli('jobs', 'retry', '--state', 'failed', '--task', 'sync');
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stdout, /^3 jobs match$/m);
      assert.match(refused.stderr, /not confirmed.*nothing was changed.*--yes/);
      assert.equal((await store.jobCount({ task: 'sync' })).failed, 3);

      const done = await cli('jobs', 'retry', '--task', 'sync', '--error-code', 'E_DOWN', '--yes');
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /3 jobs match\nretried 3 jobs/);
      const counts = await store.jobCount({ task: 'sync' });
      assert.equal(counts.queued, 3);
      assert.equal(counts.failed, 0);
    });

    it('refuses a filter that matches everything unless --all', async () => {
      await store.jobEnqueue({
        task: 'everything',
        queue: 'everything',
        payload: '{}',
        priority: 0,
        runAt: Date.now() + 60_000,
        maxAttempts: 1,
        timeoutMs: 0,
        uniqueKey: null,
        idempotencyKey: null,
        callbackUrl: null,
      });
      const before = await store.jobCount({});
      const refused = await cli('jobs', 'cancel', '--yes');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /matches every job.*--all.*\[ERR_BULK_FILTER_EMPTY\]/);
      assert.deepEqual(await store.jobCount({}), before);
      const all = await cli('--json', 'jobs', 'cancel', '--all', '--yes');
      assert.equal(all.code, 0, all.stderr);
      const record = JSON.parse(all.stdout) as { state: string; done: number; action: string };
      assert.equal(record.state, 'done');
      assert.equal(record.action, 'cancel');
      assert.equal(record.done, before.queued + before.scheduled);
      const after = await store.jobCount({});
      assert.equal(after.queued + after.scheduled, 0);
    });

    it('deletes ended jobs by queue and age; bad flags exit 1 with a code', async () => {
      await failJobs(store, { n: 2, task: 'old', queue: 'old' });
      const young = await cli('jobs', 'delete', '-q', 'old', '--older-than', '1h', '--yes');
      assert.equal(young.code, 0, young.stderr);
      assert.match(young.stdout, /no jobs match; nothing to delete/);
      const out = await cli('jobs', 'delete', '-q', 'old', '--older-than', '0', '--yes');
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /deleted [12] jobs?/);
      for (const args of [
        ['jobs', 'retry', '--state', 'queued', '--yes'],
        ['jobs', 'cancel', '--task', 'x', '--older-than', 'soon', '--yes'],
        ['jobs', 'cancel', '--task', 'x', '--created-before', 'yesterday', '--yes'],
      ]) {
        const bad = await cli(...args);
        assert.equal(bad.code, 1, args.join(' '));
        assert.match(bad.stderr, /\[ERR_INVALID_OPTION\]/, bad.stderr);
      }
      const list = await cli('jobs', '--queue', 'old');
      assert.equal(list.code, 0, list.stderr);
    });

    it('lists dead letters and redrives a group', async () => {
      await failJobs(store, {
        n: 4,
        task: 'mail',
        error: { name: 'Error', message: 'SMTP 421 try later', code: 'E_SMTP' },
      });
      await failJobs(store, {
        n: 1,
        task: 'mail',
        error: { name: 'Error', message: 'bad address' },
      });
      const listed = await cli('dead-letters', '--task', 'mail');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /1\s+mail\s+E_SMTP\s+SMTP 421 try later\s+4/);
      assert.match(listed.stdout, /2\s+mail\s+-\s+bad address\s+1/);
      const json = JSON.parse(
        (await cli('--json', 'dead-letters', '--task', 'mail')).stdout,
      ) as Array<{
        count: number;
      }>;
      assert.deepEqual(
        json.map((g) => g.count),
        [4, 1],
      );
      const refused = await cli('dead-letters', '--task', 'mail', '--redrive', '1');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /--yes/);
      const missing = await cli('dead-letters', '--task', 'mail', '--redrive', '9', '--yes');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /there are 2 groups/);
      const redriven = await cli('dead-letters', '--task', 'mail', '--redrive', '1', '--yes');
      assert.equal(redriven.code, 0, redriven.stderr);
      assert.match(redriven.stdout, /retried 4 jobs/);
      const counts = await store.jobCount({ task: 'mail' });
      assert.equal(counts.queued, 4);
      assert.equal(counts.failed, 1);
    });
  });
}
