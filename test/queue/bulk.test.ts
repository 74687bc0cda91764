import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { EnqueueParams, Store } from '../../src/store/contract.ts';
import { failJobs } from '../helpers/failed-jobs.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

/** queue.bulk, countBulk, getBulk, resumeBulk, deadLetters and redrive over a real store of each kind. */
for (const kind of testStores) {
  describe(`queue bulk actions (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    let task = 0;
    before(async () => {
      factory = await kind.make('queue-bulk');
      store = await factory.open();
      queue = createQueue({ store });
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });
    // Each test works on a task of its own, so the tests share one store.
    let name = '';
    beforeEach(() => {
      name = `report-${++task}`;
    });

    const job = (overrides: Partial<EnqueueParams> = {}): EnqueueParams => ({
      task: name,
      queue: name,
      payload: '{}',
      priority: 0,
      runAt: Date.now() - 1,
      maxAttempts: 1,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
      ...overrides,
    });

    /** `n` jobs of this test's task, failed for good with `code`. */
    const failed = (n: number, code = 'E_DOWN') =>
      failJobs(store, {
        n,
        task: name,
        error: { name: 'Error', message: 'the API is down', code },
      });

    const refusal = async (call: Promise<unknown>, code: string): Promise<OffloadError> => {
      const error = await call.then(
        () => assert.fail('expected a rejection'),
        (failure: unknown) => failure,
      );
      assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
      assert.equal(error.code, code, error.message);
      return error;
    };

    test('bulk retries what the filter matches and resolves with the final progress', async () => {
      await failed(2500);
      assert.equal(
        await queue.countBulk({ action: 'retry', filter: { task: name, state: 'failed' } }),
        2500,
      );
      const handle = await queue.bulk({ action: 'retry', filter: { task: name } });
      const first = await handle.progress();
      assert.equal(first.matched, 2500);
      const end = await handle.done;
      assert.equal(end.state, 'done');
      assert.equal(end.done, 2500);
      assert.deepEqual(await queue.getBulk(handle.id), end);
      const counts = await queue.countJobs({ task: name });
      assert.equal(counts.queued, 2500);
      assert.equal(counts.failed, 0);
    });

    test('refuses a filter that matches everything without all: true, changing nothing', async () => {
      await failed(3);
      const before = await queue.countJobs({});
      const recorded = (await store.jobBulkList({})).length;
      for (const options of [{ action: 'cancel' }, { action: 'delete', filter: {} }] as const) {
        const error = await refusal(queue.bulk(options), 'ERR_BULK_FILTER_EMPTY');
        assert.match(error.message, /all: true/);
        await refusal(queue.countBulk(options), 'ERR_BULK_FILTER_EMPTY');
      }
      assert.deepEqual(await queue.countJobs({}), before);
      assert.equal((await store.jobBulkList({})).length, recorded, 'no action recorded');
      const all = await queue.bulk({ action: 'retry', all: true });
      assert.ok((await all.done).done >= 3);
    });

    test('refuses bad actions, fields and states with ERR_INVALID_OPTION naming them', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ action: 'retyr', filter: { task: name } }, /did you mean "retry"/],
        [{ action: 'retry', filter: { stat: 'failed' } }, /did you mean `state`/],
        [{ action: 'retry', filter: { state: 'queued' } }, /retry applies to failed, cancelled/],
        [{ action: 'cancel', filter: { state: 'succeeded' } }, /cancel applies to/],
        [{ action: 'delete', filter: { state: 'running' } }, /delete applies to/],
        [{ action: 'retry', filter: { tag: '' } }, /filter.*tag.*1-64 characters/],
        [{ action: 'retry', filter: { tag: 7 } }, /tag.*must be a string/],
        [{ action: 'retry', filter: { olderThan: '-5m' } }, /olderThan/],
        [{ action: 'retry', filter: { createdBefore: -1 } }, /createdBefore/],
        [{ action: 'retry', filter: { queue: 'bad name!' } }, /queue/],
        [{ action: 'retry', all: 'yes' }, /all/],
        ['retry', /options must be an object/],
      ];
      for (const [options, message] of cases) {
        const error = await refusal(queue.bulk(options as never), 'ERR_INVALID_OPTION');
        assert.match(error.message, message);
      }
      assert.equal((await store.jobBulkList({})).filter((r) => r.state === 'running').length, 0);
      await refusal(queue.deadLetters({ limit: 0 }), 'ERR_INVALID_OPTION');
    });

    test('olderThan takes jobs created longer ago than it', async () => {
      await store.jobEnqueue(job({ runAt: Date.now() + 60_000 }));
      assert.equal(
        await queue.countBulk({ action: 'cancel', filter: { task: name, olderThan: '1h' } }),
        0,
      );
      assert.equal(
        await queue.countBulk({ action: 'cancel', filter: { task: name, olderThan: 0 } }),
        1,
      );
    });

    test('a stopped run stays running in the store and resumes from its cursor', async () => {
      await failed(3000);
      const stopper = createQueue({ store });
      const handle = await stopper.bulk({ action: 'retry', filter: { task: name } });
      await stopper.stopBulk();
      await assert.rejects(handle.done, (e: unknown) => e instanceof OffloadError);
      const stopped = await queue.getBulk(handle.id);
      assert.equal(stopped?.state, 'running');
      assert.ok(stopped!.done < 3000, `stopped after ${stopped!.done}`);
      // The stopped runner's lease is live for another 30 s: a new runner waits it out.
      await store.jobBulkStep({ id: handle.id, owner: 'takeover', leaseMs: 1 }).then((r) => {
        assert.equal(r, null);
      });
      const resumed = (await createQueue({ store }).resumeBulk()).find((h) => h.id === handle.id);
      assert.ok(resumed);
      assert.equal((await resumed.progress()).state, 'running');
    });

    test('deadLetters groups failures by task and error, and redrive retries one group', async () => {
      await failed(4, 'E_DOWN');
      await failed(2, 'E_AUTH');
      const groups = await queue.deadLetters({ task: name });
      assert.deepEqual(
        groups.map((g) => [g.errorCode, g.count]),
        [
          ['E_DOWN', 4],
          ['E_AUTH', 2],
        ],
      );
      const end = await (await queue.redrive(groups[1]!)).done;
      assert.equal(end.done, 2);
      assert.deepEqual(
        (await queue.deadLetters({ task: name })).map((g) => [g.errorCode, g.count]),
        [['E_DOWN', 4]],
      );
      assert.equal((await queue.countJobs({ task: name })).queued, 2);
    });

    test('getBulk answers undefined for an unknown id', async () => {
      assert.equal(await queue.getBulk('424242'), undefined);
    });
  });
}
