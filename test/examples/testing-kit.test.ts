import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestQueue, runTask, type TestQueue } from 'offload/testing';
import { flaky, hello, report } from '../../examples/quickstart/tasks.ts';
import { buildReport } from '../../examples/slow-report/report.ts';
import { report as slowReport } from '../../examples/slow-report/tasks.ts';

// offload/testing on the examples' own tasks, through the package's exports as a user's tests
// import it (npm test builds first).

describe('runTask on the example tasks', () => {
  it('hello succeeds with its greeting', async () => {
    const run = await runTask(hello, { name: 'ada' });
    assert.equal(run.outcome, 'succeeded');
    assert.deepEqual(run.result, { greeting: 'hello, ada' });
    assert.deepEqual(run.progress, []);
  });

  it('report reports its progress page by page, and stops when its signal aborts', async () => {
    const run = await runTask(report, { pages: 2 }, { jobId: 'r-1' });
    assert.equal(run.outcome, 'succeeded');
    assert.deepEqual(run.result, { pages: 2 });
    assert.deepEqual(run.progress, [50, 100]);
    assert.equal(run.signal?.aborted, false);

    const cancel = new AbortController();
    const cancelled = runTask(report, { pages: 50 }, { signal: cancel.signal });
    setTimeout(() => cancel.abort(), 250);
    const stopped = await cancelled;
    assert.equal(stopped.outcome, 'cancelled');
    assert.equal(stopped.signal?.aborted, true);
    assert.ok(stopped.progress.length < 50, `${stopped.progress.length} pages ran`);
  });

  it('flaky retries while attempts are left, and fails for good on the last', async () => {
    const first = await runTask(flaky, { chance: 1 });
    assert.equal(first.outcome, 'retrying');
    assert.match(first.error!.message, /unlucky on attempt 1/);
    assert.ok(first.runAt! > Date.now());
    const last = await runTask(flaky, { chance: 1 }, { attempt: 4 });
    assert.equal(last.outcome, 'failed');
    assert.match(last.error!.message, /unlucky on attempt 4/);
    const lucky = await runTask(flaky, { chance: 0 }, { attempt: 2 });
    assert.deepEqual(lucky.result, { attempt: 2 });
  });

  it("slow-report's thread task builds the same report in a thread", async () => {
    const input = { customer: 'acme', rounds: 2_000 };
    const run = await runTask(slowReport, input, { mode: 'thread' });
    assert.equal(run.outcome, 'succeeded');
    assert.equal(run.mode, 'thread');
    assert.deepEqual(run.result, buildReport(input));
  });
});

describe('a test queue drained by hand, on the example tasks', () => {
  let kit: TestQueue;
  before(async () => {
    kit = await createTestQueue({ tasks: [hello, report, flaky] });
  });
  after(() => kit.close());

  it('runs what is due one step at a time, records each outcome, and lists what was enqueued', async () => {
    await kit.queue.enqueue(hello, { name: 'grace' });
    await kit.queue.enqueue('report', { pages: 1 });
    const later = await kit.queue.enqueue(hello, { name: 'later' }, { delay: 60_000 });
    const first = await kit.drainOne();
    assert.equal(first?.job.task, 'hello');
    assert.equal(first?.job.state, 'succeeded');
    assert.deepEqual(first?.job.result, { greeting: 'hello, grace' });
    const second = await kit.drainOne();
    assert.equal(second?.job.queue, 'reports');
    assert.deepEqual(second?.run.progress, [100]);
    assert.equal(await kit.drainOne(), undefined, 'the delayed job is not due');
    kit.advanceTime(60_000);
    const steps = await kit.drain();
    assert.deepEqual(
      steps.map((step) => step.job.id),
      [later.id],
    );
    const greetings = await kit.enqueued(hello);
    assert.deepEqual(
      greetings.map((job) => [job.payload.name, job.state]),
      [
        ['grace', 'succeeded'],
        ['later', 'succeeded'],
      ],
    );
  });

  it('a failing job is retried as time passes, until it fails for good', async () => {
    const job = await kit.queue.enqueue(flaky, { chance: 1 });
    const outcomes: string[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const [step] = await kit.drain();
      outcomes.push(step!.run.outcome);
      kit.advanceTime(60_000);
    }
    assert.deepEqual(outcomes, ['retrying', 'retrying', 'retrying', 'failed']);
    const [stored] = await kit.enqueued(flaky);
    assert.equal(stored!.id, job.id);
    assert.equal(stored!.state, 'failed');
    assert.equal(stored!.attempts, 4);
    assert.equal(stored!.errors.length, 4);
  });

  it("runs slow-report's thread task in a thread with mode: 'task'", async () => {
    const slow = await createTestQueue({ tasks: [slowReport], mode: 'task' });
    try {
      const input = { customer: 'initech', rounds: 1_000 };
      await slow.queue.enqueue(slowReport, input);
      const [step] = await slow.drain();
      assert.equal(step!.run.mode, 'thread');
      assert.deepEqual(step!.job.result, buildReport(input));
    } finally {
      await slow.close();
    }
  });
});
