import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Job } from '../../src/job.ts';
import type { Task } from '../../src/task.ts';
import { createQueue } from '../../src/queue.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { inlineAdd, processReport, processSegfault, threadBusyProgress, threadHash } from '../fixtures/mode-tasks.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

describe('worker: inline, thread and process tasks side by side', () => {
  const temp = makeTempDir('worker-modes');
  const store = createSqliteStore({ path: path.join(temp.dir, 'jobs.db') });
  const queue = createQueue({ store });
  let worker: Worker;

  before(async () => {
    worker = createWorker({
      store,
      // Typed tasks are cast: Task<P, R> is not assignable to Task today (run's payload is contravariant).
      tasks: [inlineAdd, threadHash, threadBusyProgress, processReport, processSegfault] as unknown as Task[],
      logger: pino({ level: 'silent' }),
      pools: { thread: { maxWorkers: 1, forwardOutput: false }, process: { maxWorkers: 2, forwardOutput: false } },
    });
    await worker.start();
  });

  after(async () => {
    await worker.stop();
    await store.close();
    temp.cleanup();
  });

  const finished = async (job: Job): Promise<Job> => {
    let current: Job | undefined;
    await waitFor(async () => ['succeeded', 'failed'].includes((current = await store.jobGet({ id: job.id }))!.state), { what: `job ${job.id} (${job.task}) to finish`, timeoutMs: 60_000 });
    return current!;
  };

  it('runs each mode, records progress from threads and processes, and contains a segfault', async () => {
    const jobs = await Promise.all([
      queue.enqueue(inlineAdd.name, { a: 2, b: 3 }),
      queue.enqueue(threadHash.name, { text: 'abc' }),
      queue.enqueue(processReport.name, { n: 1 }),
      queue.enqueue(processSegfault.name, null),
      queue.enqueue(processReport.name, { n: 2 }),
    ]);
    const [added, hashed, reported, crashed, reportedAgain] = await Promise.all(jobs.map(finished));

    assert.equal(added!.state, 'succeeded');
    assert.equal(added!.result, 5);
    assert.equal(hashed!.state, 'succeeded');
    assert.deepEqual(hashed!.result, { digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', inThread: true });
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
    const after = await queue.enqueue(processReport.name, { n: 3 });
    assert.equal((await finished(after)).state, 'succeeded', 'the worker lives on after the crash');
  });

  it("records a thread task's progress on the job while the task holds its loop, not only when it ends", async () => {
    const job = await queue.enqueue(threadBusyProgress.name, { ms: 1_500, every: 100 });
    const whileRunning = new Set<unknown>();
    let current: Job | undefined;
    await waitFor(
      async () => {
        current = await store.jobGet({ id: job.id });
        if (current?.state === 'running' && current.progress !== null) whileRunning.add(current.progress);
        return current?.state === 'succeeded' || current?.state === 'failed';
      },
      { what: `job ${job.id} to finish`, timeoutMs: 60_000, intervalMs: 20 },
    );
    assert.equal(current!.state, 'succeeded');
    assert.equal(current!.progress, current!.result, 'the last value reported is the one kept');
    assert.ok(whileRunning.size >= 3, `the running job showed progress ${[...whileRunning].join(', ') || 'never'}`);
  });
});
