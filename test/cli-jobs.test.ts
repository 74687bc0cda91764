import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../src/store/contract.ts';
import { openStore } from '../src/store/open-store.ts';
import { cliStores, runCli } from './helpers/cli-stores.ts';

/**
 * `offload cancel`, `retry`, `pause` and `resume` through the built CLI against both stores. The
 * CLI opens a postgres:// URL with the schema `offload`, so the PostgreSQL run gets a database of
 * its own instead of a schema.
 */
const stores = cliStores('cli_jobs');

for (const { name, setUp } of stores) {
  describe(`offload cancel, retry, pause and resume (built dist, ${name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    let store: Store;
    const cli = (...args: string[]) => runCli(db, ...args);
    const enqueue = async (queue = 'default') =>
      (
        await store.jobEnqueue({
          task: 'report',
          queue,
          payload: '{}',
          priority: 0,
          runAt: Date.now(),
          maxAttempts: 1,
          timeoutMs: 0,
          uniqueKey: null,
          idempotencyKey: null,
          callbackUrl: null,
        })
      ).job;
    const claim = (queue = 'default') =>
      store.jobClaim({
        workerId: 'w',
        queues: [{ name: queue, limit: 10 }],
        tasks: ['report'],
        leaseMs: 60_000,
      });
    /** Claims a job and records `outcome` for it (`failed` for good, or `succeeded`). */
    const finish = async (kind: 'failed' | 'succeeded') => {
      const job = await enqueue('finishing');
      const claimed = (await claim('finishing')).find((each) => each.id === job.id);
      const lease = {
        id: job.id,
        workerId: 'w',
        attempt: claimed!.attempts,
        fence: claimed!.fence,
      };
      const outcome =
        kind === 'failed'
          ? { kind, lease, error: { name: 'Error', message: 'boom' }, retryAt: null }
          : { kind, lease, result: '1' };
      assert.deepEqual(await store.jobRecordOutcomes([outcome]), [true]);
      return job;
    };

    before(async () => {
      ({ db, tearDown } = await setUp());
      store = await openStore(db);
    });
    after(async () => {
      await store?.close();
      await tearDown?.();
    });

    it('cancels a queued job and a running one, and the store shows them cancelled', async () => {
      const queued = await enqueue();
      const out = await cli('cancel', queued.id);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), `job ${queued.id} is now cancelled`);
      assert.equal((await store.jobGet({ id: queued.id }))?.state, 'cancelled');

      const running = await enqueue();
      assert.deepEqual(
        (await claim()).map((job) => job.id),
        [running.id],
      );
      const json = await cli('cancel', running.id, '--json');
      assert.equal(json.code, 0, json.stderr);
      assert.equal((JSON.parse(json.stdout) as { state: string }).state, 'cancelled');
      const after = await store.jobGet({ id: running.id });
      assert.equal(after?.state, 'cancelled');
      assert.equal(after?.leaseOwner, null);
      assert.ok(after?.finishedAt);
    });

    it('retries a failed job and a cancelled one with a fresh budget, and the store shows them queued', async () => {
      const failed = await finish('failed');
      const out = await cli('retry', failed.id);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), `job ${failed.id} is now queued`);
      const retried = await store.jobGet({ id: failed.id });
      assert.equal(retried?.state, 'queued');
      assert.equal(retried?.attempts, 0);
      assert.equal(retried?.finishedAt, null);

      const cancelled = await enqueue();
      await store.jobCancel({ id: cancelled.id });
      assert.equal((await cli('retry', cancelled.id)).code, 0);
      assert.equal((await store.jobGet({ id: cancelled.id }))?.state, 'queued');
      assert.deepEqual(
        (await claim()).map((job) => job.id),
        [cancelled.id],
        'the retried job can be claimed again',
      );
    });

    it('pauses a queue so no claim takes its jobs, and resumes it', async () => {
      const job = await enqueue('emails');
      const paused = await cli('pause', 'emails');
      assert.equal(paused.code, 0, paused.stderr);
      assert.equal(paused.stdout.trim(), 'queue emails paused');
      assert.equal((await store.queueList()).find((q) => q.name === 'emails')?.paused, true);
      assert.deepEqual(await claim('emails'), []);

      const resumed = await cli('resume', 'emails');
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.stdout.trim(), 'queue emails resumed');
      assert.equal((await store.queueList()).find((q) => q.name === 'emails')?.paused, false);
      assert.deepEqual(
        (await claim('emails')).map((claimed) => claimed.id),
        [job.id],
      );
    });

    it('refuses an unknown job id, and a job in the wrong state, with exit code 1 and the fix', async () => {
      for (const command of ['cancel', 'retry']) {
        const missing = await cli(command, '987654');
        assert.equal(missing.code, 1, `${command} of an unknown id`);
        assert.equal(
          missing.stderr,
          'offload: no job with id 987654; list jobs with `offload jobs` [ERR_JOB_NOT_FOUND]\n',
        );
        assert.equal(missing.stdout, '');
        const malformed = await cli(command, 'abc');
        assert.equal(malformed.code, 1);
        assert.match(
          malformed.stderr,
          /no job with id abc; list jobs with `offload jobs` \[ERR_JOB_NOT_FOUND\]/,
        );
      }
      const succeeded = await finish('succeeded');
      const cancel = await cli('cancel', succeeded.id);
      assert.equal(cancel.code, 1);
      assert.equal(
        cancel.stderr,
        `offload: job ${succeeded.id} is succeeded; only scheduled, queued or running jobs can cancel [ERR_JOB_STATE]\n`,
      );
      const queued = await enqueue();
      const retry = await cli('retry', queued.id);
      assert.equal(retry.code, 1);
      assert.equal(
        retry.stderr,
        `offload: job ${queued.id} is queued; only failed or cancelled jobs can retry [ERR_JOB_STATE]\n`,
      );
      assert.equal(
        (await store.jobGet({ id: succeeded.id }))?.state,
        'succeeded',
        'a refused cancel changes nothing',
      );
      assert.equal(
        (await store.jobGet({ id: queued.id }))?.state,
        'queued',
        'a refused retry changes nothing',
      );
    });

    it('says which argument is missing when the id or the queue name is left out', async () => {
      for (const [command, argument] of [
        ['cancel', 'id'],
        ['retry', 'id'],
        ['pause', 'queue'],
        ['resume', 'queue'],
      ]) {
        const out = await cli(command!);
        assert.equal(out.code, 1, `${command} without its argument`);
        assert.match(out.stderr, new RegExp(`missing required argument '${argument}'`));
      }
    });
  });
}
