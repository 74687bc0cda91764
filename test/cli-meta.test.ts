import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../src/store/contract.ts';
import { openStore } from '../src/store/open-store.ts';
import { cliStores, runCli } from './helpers/cli-stores.ts';

/**
 * `offload enqueue --meta --tag`, `offload jobs --tag`, `offload job` and `offload jobs cancel --tag`
 * through the built CLI against both stores.
 */
for (const { name, setUp } of cliStores('cli_meta')) {
  describe(`offload meta and tags (built dist, ${name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    let store: Store;
    const cli = (...args: string[]) => runCli(db, ...args);

    before(async () => {
      ({ db, tearDown } = await setUp());
      store = await openStore(db);
      await store.taskRegister({
        tasks: [
          {
            name: 'report',
            queue: 'default',
            mode: 'inline',
            attempts: 1,
            priority: 0,
            timeout: 0,
          },
        ],
      });
    });
    after(async () => {
      await store?.close();
      await tearDown?.();
    });

    it('enqueue --meta and repeated --tag store them; jobs --tag lists them; job shows them', async () => {
      const added = await cli(
        '--json',
        'enqueue',
        'report',
        '--meta',
        '{"requestId":"r-7"}',
        '--tag',
        'nightly',
        '--tag',
        'eu',
        '--tag',
        'nightly',
      );
      assert.equal(added.code, 0, added.stderr);
      const job = JSON.parse(added.stdout) as { id: string; meta: unknown; tags: string[] };
      assert.deepEqual(job.meta, { requestId: 'r-7' });
      assert.deepEqual(job.tags, ['nightly', 'eu']);
      const plain = JSON.parse((await cli('--json', 'enqueue', 'report')).stdout) as { id: string };
      const copies = await cli('enqueue', 'report', '--tag', 'copies', '--count', '3');
      assert.equal(copies.code, 0, copies.stderr);

      const listed = await cli('--json', 'jobs', '--tag', 'nightly');
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id),
        [job.id],
      );
      const table = await cli('jobs', '--tag', 'copies');
      assert.match(table.stdout, /TAGS/);
      assert.equal(table.stdout.match(/report\s+queued\s+0\/1\s+.+?\s+copies/g)?.length, 3);
      const all = await cli('jobs');
      assert.match(all.stdout, new RegExp(`^${job.id}\\s.*nightly,eu`, 'm'));
      assert.match(all.stdout, new RegExp(`^${plain.id}\\s.*\\s-\\s*$`, 'm'));

      const shown = await cli('job', job.id);
      assert.match(shown.stdout, /^tags\s+nightly, eu$/m);
      assert.match(shown.stdout, /^meta\s+\{"requestId":"r-7"\}$/m);
      assert.match((await cli('job', plain.id)).stdout, /^tags\s+-$/m);
    });

    it('refuses bad meta and tags with ERR_INVALID_META, storing nothing', async () => {
      const before = await store.jobCount({});
      const cases: Array<[string[], RegExp]> = [
        [['--meta', '[1,2]'], /`meta` must be a JSON object.*\[ERR_INVALID_META\]/],
        [['--meta', '{not json'], /--meta must be JSON/],
        [['--tag', 'x'.repeat(65)], /`tags\[0\]` must be 1-64 characters.*\[ERR_INVALID_META\]/],
        [['--tag', 'a\tb'], /control characters/],
      ];
      for (const [args, message] of cases) {
        const refused = await cli('enqueue', 'report', ...args);
        assert.notEqual(refused.code, 0, `${args.join(' ')} was accepted`);
        assert.match(refused.stderr, message);
      }
      assert.deepEqual(await store.jobCount({}), before);
      const badFilter = await cli('jobs', '--tag', '');
      assert.equal(badFilter.code, 1);
      assert.match(badFilter.stderr, /`tag` must be 1-64 characters/);
    });

    it('jobs cancel --tag cancels only the tagged jobs', async () => {
      for (let i = 0; i < 2; i++)
        await cli('enqueue', 'report', '--tag', 'doomed', '--delay', '60000');
      const spared = JSON.parse(
        (await cli('--json', 'enqueue', 'report', '--delay', '60000')).stdout,
      ) as {
        id: string;
      };
      const done = await cli('jobs', '--tag', 'doomed', 'cancel', '--yes');
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /2 jobs match\ncancelled 2 jobs/);
      assert.equal((await store.jobCount({ tag: 'doomed' })).cancelled, 2);
      assert.equal((await store.jobGet({ id: spared.id }))?.state, 'scheduled');
    });
  });
}
