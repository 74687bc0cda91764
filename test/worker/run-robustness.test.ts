import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';
import { within } from '../helpers/temp.ts';

const echo = defineTask({ name: 'echo', run: async () => 'ok' });

for (const kind of testStores) {
  describe(`a run whose pipeline throws in the worker (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    let h: Harness;
    before(async () => {
      factory = await kind.make('run_robust');
      store = await factory.open();
      h = await startHarness([echo], {
        store,
        shutdownGrace: 500,
        logger: pino({ level: 'silent' }),
      });
    });
    after(async () => {
      await h?.close();
      await store?.close();
      await factory?.destroy();
    });

    it('gives the slot back, fires job:end and lets stop() resolve when a job:start listener throws', async () => {
      const errors: Error[] = [];
      h.worker.on('error', (error) => errors.push(error));
      h.worker.once('job:start', () => {
        throw new Error('listener bug');
      });
      // Listening before the enqueue: on PostgreSQL the worker may claim and end the job before
      // the enqueue's promise comes back.
      const ends = new Map<string, (outcome: unknown) => void>();
      const outcomes = new Map<string, unknown>();
      h.worker.on('job:end', (end, outcome) => {
        outcomes.set(end.id, outcome);
        ends.get(end.id)?.(outcome);
      });
      const job = await h.queue.enqueue(echo, {});
      const ended = new Promise<unknown>((resolve) => {
        if (outcomes.has(job.id)) resolve(outcomes.get(job.id));
        else ends.set(job.id, resolve);
      });
      assert.equal(
        await within(ended, 20_000, `job:end of job ${job.id}`),
        null,
        'no outcome: the job was not run',
      );
      assert.equal(h.worker.running, 0);
      assert.match(errors.map((error) => error.message).join('\n'), /listener bug/);
      await within(h.worker.stop(), 20_000, 'worker.stop()');
      assert.equal(
        (await h.queue.getJob(job.id))?.state,
        'running',
        'left to its lease, which expires so the job runs again',
      );
    });
  });
}
