import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { MAX_BACKOFF_MS } from '../../src/core/backoff.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import type { Job } from '../../src/core/job.ts';
import { createQueue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { badBackoffTasks, runs } from '../fixtures/bad-backoff-tasks.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { exited, startWorkerProcess } from '../helpers/processes.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';
import { waitFor, within } from '../helpers/temp.ts';

const LEASE_MS = 15_000;
/** What each fixture's backoff did, as the report must say it. */
const DID: Record<string, RegExp> = {
  'backoff-throws': /threw Error: the curve fell over/,
  'backoff-promise': /returned a Promise/,
  'backoff-nan': /returned NaN/,
  'backoff-negative': /returned -1/,
  'backoff-infinity': /returned Infinity/,
};

// Six runs that wait for each other, so their outcomes are recorded in one batch.
const BATCH = 6;
const batchRuns = new Map<string, number>();
let batch = newGate();
function newGate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { arrived: 0, open, opened };
}
async function arriveAndWait(id: string): Promise<void> {
  batchRuns.set(id, (batchRuns.get(id) ?? 0) + 1);
  if (++batch.arrived === BATCH) batch.open();
  await batch.opened;
}
const batchGood = defineTask({
  name: 'batch-good',
  run: async (_: unknown, ctx) => arriveAndWait(ctx.job.id).then(() => 'ok'),
});
const batchBad = defineTask({
  name: 'batch-bad',
  attempts: 2,
  backoff: () => NaN,
  run: async (_: unknown, ctx) => {
    await arriveAndWait(ctx.job.id);
    throw new Error('bad run');
  },
});
const sleepsForever = defineTask({
  name: 'sleeps-forever',
  run: async (_: unknown, ctx) => ctx.snooze(Infinity),
});

for (const kind of testStores) {
  describe(`a backoff that misbehaves (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let clock: ManualClock;
    let store: Store;
    let h: Harness;
    const errors: Error[] = [];

    before(async () => {
      // Job ids start again at 1 on each store.
      runs.clear();
      batchRuns.clear();
      batch = newGate();
      factory = await kind.make('bad_backoff');
      clock = new ManualClock();
      store = await factory.open({ clock });
      h = await startHarness([...badBackoffTasks, batchGood, batchBad, sleepsForever], {
        store,
        leaseMs: LEASE_MS,
        recoveryInterval: 100,
        shutdownGrace: 500,
        logger: pino({ level: 'silent' }),
      });
      h.worker.on('error', (error) => errors.push(error));
    });
    after(async () => {
      await h?.close();
      await store?.close();
      await factory?.destroy();
    });

    const read = (jobs: readonly Job[]) =>
      Promise.all(jobs.map(async (job) => (await h.queue.getJob(job.id))!));

    it('retries with the default backoff, reports ERR_INVALID_BACKOFF naming the task, the attempt and what it did, and ends each job as its attempts say', async () => {
      const jobs = await h.queue.enqueueMany(
        badBackoffTasks.flatMap((task) => [
          { task, payload: { failures: 1 } },
          { task, payload: { failures: 5 } },
        ]),
      );
      await waitFor(async () => (await read(jobs)).every((job) => job.state === 'scheduled'), {
        what: 'every first attempt to fail and wait out a backoff',
      });
      for (const job of await read(jobs)) {
        const delay = job.runAt - clock.now();
        assert.equal(job.attempts, 1);
        assert.ok(
          delay >= 500 && delay <= 1000,
          `${job.task}: the default backoff waits 500-1000 ms after attempt 1, not ${delay}`,
        );
      }
      const reports = errors.splice(0);
      assert.equal(reports.length, jobs.length, reports.map((e) => e.message).join('\n'));
      for (const task of badBackoffTasks) {
        const mine = reports.filter((error) => error.message.includes(`task "${task.name}"`));
        assert.equal(mine.length, 2, `two reports for ${task.name}`);
        for (const error of mine) {
          assert.ok(error instanceof OffloadError);
          assert.equal(error.code, ErrorCodes.INVALID_BACKOFF);
          assert.match(error.message, /attempt 1\b/);
          assert.match(error.message, DID[task.name]!);
          assert.match(error.message, /default backoff/);
          assert.equal(error.details['task'], task.name);
          assert.equal(error.details['attempt'], 1);
        }
      }

      clock.advance(1000);
      const ended = await Promise.all(jobs.map((job) => h.finished(job.id)));
      for (const [i, job] of ended.entries()) {
        assert.equal(runs.get(job.id), 2, `${job.task} ran twice`);
        assert.equal(job.attempts, 2);
        if (i % 2 === 0)
          assert.deepEqual([job.task, job.state, job.result], [job.task, 'succeeded', 2]);
        else
          assert.deepEqual(
            [job.task, job.state, job.error?.message],
            [job.task, 'failed', 'failure 2 of 5'],
          );
      }
      assert.deepEqual(errors, [], 'the last attempts call no backoff');
    });

    it('keeps the other outcomes of a batch: 5 good jobs finishing beside an invalid backoff each run once and succeed', async () => {
      const jobs = await h.queue.enqueueMany([
        ...Array.from({ length: BATCH - 1 }, () => ({ task: batchGood, payload: {} })),
        { task: batchBad, payload: {} },
      ]);
      const ids = new Set(jobs.map((job) => job.id));
      let ends = 0;
      const allEnded = new Promise<void>((resolve) =>
        h.worker.on('job:end', (job) => ids.has(job.id) && ++ends === BATCH && resolve()),
      );
      await within(allEnded, 20_000, 'the six first runs');
      clock.advance(LEASE_MS + 1000);
      const ended = await Promise.all(jobs.map((job) => h.finished(job.id)));
      for (const job of ended.slice(0, -1)) {
        assert.equal(batchRuns.get(job.id), 1, `good job ${job.id} ran once`);
        assert.equal(job.state, 'succeeded');
      }
      const bad = ended.at(-1)!;
      assert.deepEqual([bad.state, bad.attempts, batchRuns.get(bad.id)], ['failed', 2, 2]);
      assert.deepEqual(
        errors.splice(0).map((error) => (error as OffloadError).code),
        [ErrorCodes.INVALID_BACKOFF],
      );
    });

    it('bounds a snooze of Infinity instead of failing its outcome', async () => {
      const job = await h.queue.enqueue(sleepsForever, {});
      await waitFor(async () => (await h.queue.getJob(job.id))?.state === 'scheduled', {
        what: 'the job to be snoozed',
      });
      const snoozed = (await h.queue.getJob(job.id))!;
      assert.equal(snoozed.runAt, clock.now() + MAX_BACKOFF_MS);
      assert.equal(snoozed.attempts, 0);
      await h.queue.cancel(job.id);
    });

    it('ends a run whose backoff throws (job:end fires) and stops with nothing left running', async () => {
      const job = await h.queue.enqueue('backoff-throws', { failures: 5 });
      const ended = new Promise<void>((resolve) =>
        h.worker.on('job:end', (end) => end.id === job.id && resolve()),
      );
      await within(ended, 20_000, 'job:end of the run');
      assert.equal(h.worker.running, 0);
      await within(h.worker.stop(), 20_000, 'worker.stop()');
      assert.equal((await h.queue.getJob(job.id))?.state, 'scheduled');
      assert.deepEqual(
        errors.splice(0).map((error) => (error as OffloadError).code),
        [ErrorCodes.INVALID_BACKOFF],
      );
    });
  });

  describe(`a worker process whose task's backoff throws (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let store: Store;
    before(async () => {
      factory = await kind.make('bad_backoff_proc');
      store = await factory.open();
    });
    after(async () => {
      await store?.close();
      await factory?.destroy();
    });

    it('lives on, retries the job with the default backoff until it succeeds, and stops with exit code 0', async () => {
      const queue = createQueue({ store, tasks: badBackoffTasks });
      // The schema (PostgreSQL) must exist before the child starts.
      const child = await startWorkerProcess({
        ...factory.env,
        OFFLOAD_TEST_TASKS: 'bad-backoff',
        OFFLOAD_TEST_GRACE_MS: '2000',
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      try {
        const job = await queue.enqueue('backoff-throws', { failures: 1 });
        const finished = waitFor(async () => (await queue.getJob(job.id))?.state === 'succeeded', {
          what: 'the job to succeed',
        });
        const first = await Promise.race([
          finished.then(() => 'succeeded'),
          exited(child).then((code) => `the worker process exited (${code})`),
        ]);
        assert.equal(first, 'succeeded', stderr);
        assert.equal((await queue.getJob(job.id))?.attempts, 2);
        assert.match(
          stderr,
          /worker error: ERR_INVALID_BACKOFF task "backoff-throws".*attempt 1\b.*threw Error: the curve fell over/,
        );
        assert.equal(child.exitCode, null);
      } finally {
        if (child.exitCode === null) child.kill('SIGTERM');
      }
      assert.equal(await within(exited(child), 20_000, 'the worker process to stop'), 0, stderr);
    });
  });
}
