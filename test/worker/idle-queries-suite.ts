import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import type { MakeStoreFactory, StoreFactory } from '../store-contract/factory.ts';
import { waitFor } from '../helpers/temp.ts';

/** What an idle worker asks of its store between jobs: the poll is out of the way (60 s). */
export function idleQueriesSuite(makeFactory: MakeStoreFactory): void {
  const startedAt = new Map<string, number>();
  const quick = defineTask({
    name: 'quick',
    run: async (_: unknown, ctx) => void startedAt.set(ctx.job.id, Date.now()),
  });

  describe('worker: queries of an idle worker', () => {
    const calls = { jobClaim: 0, jobNextRunAt: 0 };
    let inFlight = 0;
    /** Job id → claims counted when the worker ended it. */
    const claimsAtEnd = new Map<string, number>();
    /**
     * The worker ended the job and finished the look for work that follows. On PostgreSQL the next
     * enqueue could otherwise land while that look is in flight and its read of the next run-at
     * see the new job before its claim: a read more, from a worker that was not idle yet.
     */
    const idleAfter = (id: string) =>
      claimsAtEnd.has(id) && calls.jobClaim > claimsAtEnd.get(id)! && inFlight === 0;
    let factory: StoreFactory;
    let store: Store;
    let queue: Queue;
    let worker: Worker;
    before(async () => {
      factory = await makeFactory();
      store = await factory.open();
      // Counts the calls on their way to the real store; every call still reaches it.
      const counted = new Proxy(store, {
        get(target, name) {
          const value = Reflect.get(target, name, target) as unknown;
          if (typeof value !== 'function') return value;
          const bound = (value as (...args: unknown[]) => unknown).bind(target);
          if (name !== 'jobClaim' && name !== 'jobNextRunAt') return bound;
          return (...args: unknown[]) => {
            calls[name]++;
            inFlight++;
            const result = bound(...args) as Promise<unknown>;
            const settle = () => void inFlight--;
            result.then(settle, settle);
            return result;
          };
        },
      });
      queue = createQueue({ store, tasks: [quick] });
      worker = createWorker({
        store: counted,
        tasks: [quick],
        pollInterval: 60_000,
        recoveryInterval: 60_000,
        blockThreshold: 0,
      });
      worker.on('job:end', (job) => claimsAtEnd.set(job.id, calls.jobClaim));
      await worker.start();
    });
    after(async () => {
      await worker.stop();
      await store.close();
      await factory.destroy();
    });

    it('reads the next run-at once per job, not again after the job ends when nothing happened since', async () => {
      const before = { ...calls };
      for (let i = 0; i < 20; i++) {
        const job = await queue.enqueue(quick, { i });
        await waitFor(async () => (await queue.getJob(job.id))?.state === 'succeeded', {
          timeoutMs: 10_000,
          what: `job ${i} to succeed`,
        });
        await waitFor(() => idleAfter(job.id), {
          timeoutMs: 10_000,
          what: `the worker to look for work after job ${i}`,
        });
      }
      const claims = calls.jobClaim - before.jobClaim;
      const reads = calls.jobNextRunAt - before.jobNextRunAt;
      assert.ok(claims >= 20, `${claims} claims for 20 jobs`);
      assert.ok(
        reads >= 20 && reads <= 22,
        `${reads} next-run-at reads for 20 jobs (each claim that came back short asked before)`,
      );
    });

    it('still starts a delayed job on time, by its timer alone', async () => {
      const job = await queue.enqueue(quick, {}, { delay: 300 });
      await waitFor(() => startedAt.has(job.id), {
        timeoutMs: 10_000,
        what: 'the delayed job to start',
      });
      // From its run-at (enqueue time + 300 ms), not from when enqueue resolved: on PostgreSQL that is a round trip later.
      const late = startedAt.get(job.id)! - job.runAt;
      assert.ok(late >= 0, `started ${-late} ms before its run-at`);
      assert.ok(
        late < 4_700,
        `started ${late} ms after its run-at: its timer did not fire (the poll is 60 s)`,
      );
    });
  });
}
