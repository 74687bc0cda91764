import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import { JobWaits } from '../../src/queue/job-waits.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store, StoreChange } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { boom, echo } from '../fixtures/wait-tasks.ts';
import { exited, startWorkerProcess } from '../helpers/processes.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';
import { waitFor } from '../helpers/temp.ts';

/**
 * A worker in a child process runs the jobs; this process only enqueues and waits, so its waits
 * resolve from what the store carries between processes: SQLite's hints naming the ended jobs,
 * PostgreSQL's notifications.
 */
for (const kind of testStores) {
  describe(`queue.wait resolved by a worker in another process (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let queue: Queue;
    let child: ChildProcess | undefined;
    const hints: StoreChange[] = [];
    before(async () => {
      factory = await kind.make('wait-processes');
      store = await factory.open();
      store.on('store:changed', (change) => hints.push(change));
      queue = createQueue({ store, tasks: [echo, boom] });
      child = await startWorkerProcess({ ...factory.env, OFFLOAD_TEST_TASKS: 'wait' });
    });
    after(async () => {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
      await store?.close();
      await factory?.destroy();
    });

    test('results, failures and many waits at once arrive from the other process', async () => {
      const result = await queue.run(echo, { text: 'across' }, { waitTimeout: 15_000 });
      assert.equal(result.text, 'across');
      assert.equal(result.pid, child!.pid, 'the child process ran it');

      const failure = await queue.run(boom, { message: 'far away' }, { waitTimeout: 15_000 }).then(
        () => assert.fail('expected ERR_JOB_FAILED'),
        (error: unknown) => error as OffloadError,
      );
      assert.equal(failure.code, ErrorCodes.JOB_FAILED);
      assert.equal((failure.cause as { code?: string }).code, 'E_BOOM');

      const jobs = await queue.enqueueMany(
        Array.from({ length: 200 }, (_, i) => ({ task: echo, payload: { text: `n${i}` } })),
      );
      const results = await Promise.all(jobs.map((job) => queue.wait(job, { timeout: 30_000 })));
      assert.deepEqual(
        results.map((r) => (r as { text: string }).text),
        jobs.map((_, i) => `n${i}`),
      );
      assert.equal(JobWaits.of(store).size, 0);
      if (kind.name === 'sqlite') {
        // The hints name the jobs (a job that ended before its wait began is named at the next
        // look): the waits never had to look at every job.
        const named = () => new Set(hints.flatMap((hint) => hint.ended ?? []));
        await waitFor(() => jobs.every((job) => named().has(job.id)), {
          timeoutMs: 5_000,
          what: 'hints naming every job that ended',
        });
        assert.ok(!hints.some((hint) => hint.missed), 'no hint said events were missed');
      }
    });

    if (kind.name === 'postgres')
      test('a poll-only store (listen: false) resolves waits at its hints, which say events were missed', async () => {
        const polling = await createPostgresStore({
          connectionString: factory.env.OFFLOAD_TEST_DB!,
          schema: factory.env.OFFLOAD_TEST_PG_SCHEMA!,
          listen: false,
          pollInterval: 50,
        });
        try {
          const missed: StoreChange[] = [];
          polling.on('store:changed', (change) => change.missed && missed.push(change));
          const waiter = createQueue({ store: polling, tasks: [echo] });
          const result = await waiter.run(echo, { text: 'polled' }, { waitTimeout: 15_000 });
          assert.equal(result.pid, child!.pid);
          assert.ok(missed.length > 0, 'the hints said job events may have been missed');
        } finally {
          await polling.close();
        }
      });
  });
}
