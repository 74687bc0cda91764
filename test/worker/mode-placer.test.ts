import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { Task, TaskContext } from '../../src/task/task.ts';
import type { RunFacts } from '../../src/store/contract.ts';
import { ModePlacer, RECHECK_EVERY, type JobPlacement } from '../../src/worker/mode-placer.ts';

const task = defineTask({ name: 'maybe-heavy', mode: 'auto', run: () => null }) as unknown as Task;
/** A thread round trip this slow puts the bounds at 8 ms (to a thread) and 4 ms (back), far from scheduling noise. */
const HANDOFF_MS = 2;

/** Blocks this thread for `ms`, as a run that holds the event loop does (without JIT effects of a busy loop). */
const block = (ms: number) =>
  ms > 0 && Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A placer whose inline runs hold the loop for the given ms each, really measured. */
function placerWithRuns() {
  const moves: JobPlacement[] = [];
  const placer = new ModePlacer({
    handoffMs: () => HANDOFF_MS,
    onMove: (_, placement) => moves.push(placement),
  });
  let holdMs = 0;
  const inline = placer.measured(async () => {
    block(holdMs);
    return null;
  });
  const runInline = async (ms: number) => {
    holdMs = ms;
    await inline(task, null, {} as TaskContext, {} as RunFacts);
  };
  return { placer, moves, runInline };
}

describe('ModePlacer: mode auto', () => {
  // The first runs of any function include compiling it, which a placer would rightly count.
  before(async () => {
    const { runInline } = placerWithRuns();
    for (let i = 0; i < 5; i++) await runInline(0);
  });

  it('does not move a cheap task for one slow run (a GC pause, a preemption)', async () => {
    const { placer, moves, runInline } = placerWithRuns();
    for (const ms of [0, 30, 0, 0, 40, 0]) {
      assert.equal(placer.place(task).mode, 'inline');
      await runInline(ms);
    }
    assert.deepEqual(moves, []);
    assert.equal(placer.current(task), 'inline');
  });

  it('moves a task to a thread after two runs that hold the loop, and says why', async () => {
    const { placer, moves, runInline } = placerWithRuns();
    await runInline(30);
    assert.equal(placer.current(task), 'inline', 'one run is not evidence');
    await runInline(20);
    assert.equal(placer.current(task), 'thread');
    assert.equal(moves.length, 1);
    assert.match(
      moves[0]!.reason,
      /^auto: a run holds the event loop for 2\d\.\d ms; a thread round trip costs 2\.0 ms: over 4×/,
    );
  });

  it('brings a task in a thread back at its first fast recheck', async () => {
    const { placer, moves, runInline } = placerWithRuns();
    await runInline(30);
    await runInline(30);
    assert.equal(placer.current(task), 'thread');
    let recheck: JobPlacement | undefined;
    for (let i = 0; i < RECHECK_EVERY && !recheck; i++) {
      const placement = placer.place(task);
      if (placement.mode === 'inline') recheck = placement;
    }
    assert.match(recheck!.reason, /measuring again inline/);
    await runInline(0);
    assert.equal(placer.current(task), 'inline');
    assert.equal(moves.at(-1)!.mode, 'inline');
  });
});
