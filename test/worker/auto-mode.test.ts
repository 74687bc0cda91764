import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { OffloadError } from '../../src/core/errors.ts';
import { chooseMode, INLINE_FACTOR } from '../../src/core/mode-rule.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { Task } from '../../src/task/task.ts';
import type { JobPlacement } from '../../src/worker/mode-placer.ts';
import { isolated, spin, tiny } from '../fixtures/auto-tasks.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

// SQLite only: where a run goes is the worker's choice, whatever the store; what the job
// record keeps of it is the run-facts store contract's, on both stores.
describe("mode: 'auto' and isolate: true", () => {
  let harness: Harness;
  const placements = new Map<string, JobPlacement>();

  before(async () => {
    harness = await startHarness([spin, tiny, isolated] as unknown as Task[], {
      logger: pino({ level: 'silent' }),
      pools: {
        thread: { maxWorkers: 1, forwardOutput: false },
        process: { maxWorkers: 1, forwardOutput: false },
      },
    });
    harness.worker.on('job:start', (job, placement) => placements.set(job.id, placement));
    // Compiled before its first measured run, so a lazy compile does not count as loop blocking.
    tiny.run({ a: 0, b: 0 }, undefined as never);
  });
  after(() => harness.close());

  const runOne = async (task: Task, payload: unknown) => {
    const job = await harness.queue.enqueue(task.name, payload);
    const done = await harness.finished(job.id, 60_000);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    return {
      result: done.result as Record<string, unknown>,
      placement: placements.get(job.id)!,
      job: done,
    };
  };

  it('starts a CPU-holding task inline, then after two measured runs moves it to a thread, saying why', async () => {
    const first = await runOne(spin as unknown as Task, { ms: 30 });
    assert.equal(first.placement.mode, 'inline');
    assert.match(first.placement.reason, /starts inline until two runs are measured/);
    assert.equal(first.result.inThread, false);
    const measuredOnce = await runOne(spin as unknown as Task, { ms: 30 });
    assert.equal(
      measuredOnce.placement.mode,
      'inline',
      'one slow run is not evidence: a GC pause could have made it slow',
    );
    const second = await runOne(spin as unknown as Task, { ms: 30 });
    assert.equal(second.placement.mode, 'thread');
    assert.match(
      second.placement.reason,
      /^auto: a run holds the event loop for .* thread round trip/,
    );
    assert.equal(second.result.inThread, true);
    assert.equal(
      first.job.placement,
      `inline: ${first.placement.reason}`,
      'the job record says where it ran and why',
    );
    assert.match(
      second.job.placement!,
      /^thread: auto: a run holds the event loop for .* thread round trip/,
    );
    assert.equal(second.job.outputTail, null, 'only process runs keep an output tail');
  });

  it('keeps a cheap task inline', async () => {
    for (let i = 0; i < 4; i++) {
      const { result, placement } = await runOne(tiny as unknown as Task, { a: i, b: 1 });
      assert.equal(placement.mode, 'inline');
      assert.deepEqual(result, { sum: i + 1, inThread: false });
    }
  });

  it('runs an isolated task in a child process', async () => {
    const { result, placement, job } = await runOne(isolated as unknown as Task, null);
    assert.deepEqual(placement, { mode: 'process', reason: 'isolate: true' });
    assert.equal(job.placement, 'process: isolate: true');
    assert.match(job.outputTail!, new RegExp(`isolated run in ${String(result.pid)}\n`));
    assert.match(job.outputTail!, /a warning on stderr\n/);
    assert.notEqual(result.pid, process.pid);
    assert.equal(isolated.mode, 'process');
  });

  it('refuses isolate: true beside an inline or thread mode', () => {
    assert.throws(
      () => defineTask({ name: 'x', isolate: true, mode: 'thread', run: () => 1 }),
      (error: unknown) =>
        error instanceof OffloadError &&
        error.code === 'ERR_INVALID_OPTION' &&
        /isolate: true.*mode: 'thread'/.test(error.message),
    );
  });

  it('the rule: inline under INLINE_FACTOR round trips, back from a thread only under half that', () => {
    const handoffMs = 0.05;
    assert.equal(
      chooseMode({ blockMs: handoffMs * INLINE_FACTOR * 0.9, handoffMs }).mode,
      'inline',
    );
    assert.equal(
      chooseMode({ blockMs: handoffMs * INLINE_FACTOR * 1.1, handoffMs }).mode,
      'thread',
    );
    assert.equal(
      chooseMode({ blockMs: handoffMs * INLINE_FACTOR * 0.9, handoffMs }, 'thread').mode,
      'thread',
    );
    assert.equal(
      chooseMode({ blockMs: handoffMs * INLINE_FACTOR * 0.4, handoffMs }, 'thread').mode,
      'inline',
    );
  });
});
