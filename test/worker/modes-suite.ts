import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Task } from '../../src/task/task.ts';
import type { Job } from '../../src/core/job.ts';
import {
  inlineAdd,
  processReport,
  processSegfault,
  threadBusyProgress,
  threadHash,
} from '../fixtures/mode-tasks.ts';
import { waitFor } from '../helpers/temp.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import type { MakeStoreFactory } from '../store-contract/factory.ts';

/** Inline, thread and process tasks in one worker, their progress and a crash recorded in the store. */
export function modesSuite(makeFactory: MakeStoreFactory): void {
  describe('worker: inline, thread and process tasks side by side', () => {
    let h: Harness;

    before(async () => {
      h = await startHarness(
        // Typed tasks are cast: Task<P, R> is not assignable to Task today (run's payload is contravariant).
        [
          inlineAdd,
          threadHash,
          threadBusyProgress,
          processReport,
          processSegfault,
        ] as unknown as Task[],
        {
          logger: pino({ level: 'silent' }),
          pools: {
            thread: { maxWorkers: 1, forwardOutput: false },
            process: { maxWorkers: 2, forwardOutput: false },
          },
        },
        makeFactory,
      );
    });

    after(() => h.close());

    const finished = (job: { id: string }) => h.finished(job.id, 60_000);

    it('runs each mode, records progress from threads and processes, and contains a segfault', async () => {
      const jobs = await Promise.all([
        h.queue.enqueue(inlineAdd.name, { a: 2, b: 3 }),
        h.queue.enqueue(threadHash.name, { text: 'abc' }),
        h.queue.enqueue(processReport.name, { n: 1 }),
        h.queue.enqueue(processSegfault.name, null),
        h.queue.enqueue(processReport.name, { n: 2 }),
      ]);
      const [added, hashed, reported, crashed, reportedAgain] = await Promise.all(
        jobs.map(finished),
      );

      assert.equal(added!.state, 'succeeded');
      assert.equal(added!.result, 5);
      assert.equal(hashed!.state, 'succeeded');
      assert.deepEqual(hashed!.result, {
        digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
        inThread: true,
      });
      assert.equal(hashed!.progress, 50);
      assert.equal(reported!.state, 'succeeded');
      assert.deepEqual(reported!.progress, { step: 'half' });
      assert.notEqual((reported!.result as { pid: number }).pid, process.pid);
      assert.equal((reported!.result as { attempt: number }).attempt, 1);

      assert.equal(crashed!.state, 'failed');
      assert.equal(crashed!.error?.code, 'ERR_WORKER_CRASHED');
      assert.match(crashed!.error!.message, /SIGSEGV/);
      assert.match(crashed!.error!.stack ?? '', /about to fall over/);

      assert.equal(reportedAgain!.state, 'succeeded');
      const after = await h.queue.enqueue(processReport.name, { n: 3 });
      assert.equal(
        (await finished(after)).state,
        'succeeded',
        'the worker lives on after the crash',
      );
    });

    it("records a thread task's progress on the job while the task holds its loop, not only when it ends", async () => {
      const job = await h.queue.enqueue(threadBusyProgress.name, { ms: 1_500, every: 100 });
      const whileRunning = new Set<unknown>();
      let current: Job | undefined;
      await waitFor(
        async () => {
          current = await h.store.jobGet({ id: job.id });
          if (current?.state === 'running' && current.progress !== null)
            whileRunning.add(current.progress);
          return current?.state === 'succeeded' || current?.state === 'failed';
        },
        { what: `job ${job.id} to finish`, timeoutMs: 60_000, intervalMs: 20 },
      );
      assert.equal(current!.state, 'succeeded');
      assert.equal(current!.progress, current!.result, 'the last value reported is the one kept');
      assert.ok(
        whileRunning.size >= 3,
        `the running job showed progress ${[...whileRunning].join(', ') || 'never'}`,
      );
    });
  });
}
