import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { Task } from '../../src/task/task.ts';
import type { LoopBlock } from '../../src/worker/loop-watchdog.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { waitFor } from '../helpers/temp.ts';

/** Above the stalls a loaded machine gives a process that yields (over 140 ms seen), below what the blocker holds (300 ms). */
const BLOCK_THRESHOLD_MS = 200;
const DEFAULT_SLICE_MS = 10;

/** What a yielding task saw of the event loop while it ran. */
interface YieldReport {
  calls: number;
  /** Calls to `ctx.yield()` that let the loop turn: an immediate probe ran while they waited. */
  hops: number;
  /** Turns of a 1 ms interval probe while the task ran. */
  ticks: number;
  elapsedMs: number;
}

/** Calls `ctx.yield()` at every step of a CPU loop, far more often than a slice; probes the loop meanwhile. */
const yielding = defineTask({
  name: 'yielding',
  run: async ({ ms }: { ms: number }, ctx): Promise<YieldReport> => {
    let ticks = 0;
    let immediates = 0;
    let probing = true;
    const interval = setInterval(() => ticks++, 1);
    const probe = () => {
      immediates++;
      if (probing) setImmediate(probe);
    };
    setImmediate(probe);
    const began = performance.now();
    let calls = 0;
    let hops = 0;
    try {
      while (performance.now() - began < ms) {
        const seen = immediates;
        await ctx.yield();
        calls++;
        if (immediates !== seen) hops++;
      }
    } finally {
      probing = false;
      clearInterval(interval);
    }
    return { calls, hops, ticks, elapsedMs: performance.now() - began };
  },
});

/** Holds the event loop without yielding (and without spending the CPU of a busy loop). */
const blocker = defineTask({
  name: 'blocker',
  run: ({ ms }: { ms: number }) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return 'woke';
  },
});

/** The seed's coroutine contract for inline tasks. SQLite only: the store is incidental here, and these runs hold a CPU. */
describe('worker: inline tasks as coroutines', () => {
  let h: Harness;
  const blocks: LoopBlock[] = [];
  const logLines: Array<{ level: number; msg: string; blockedMs?: number }> = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) logLines.push(JSON.parse(line) as (typeof logLines)[number]);
      done();
    },
  });

  before(async () => {
    h = await startHarness([yielding, blocker] as unknown as Task[], {
      blockThreshold: BLOCK_THRESHOLD_MS,
      logger: pino({ level: 'warn' }, logStream),
    });
    h.worker.on('loop:blocked', (block) => blocks.push(block));
  });
  after(() => h.close());

  const blocksNaming = (id: string) =>
    blocks.filter((block) => block.jobs.some((job) => job.id === id));

  it('gives the event loop a turn at ctx.yield() once a slice (default 10 ms) is spent, and not at every call', async () => {
    const job = await h.queue.enqueue(yielding, { ms: 300 });
    const done = await h.finished(job.id);
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    const { calls, hops, ticks, elapsedMs } = done.result as YieldReport;
    // Without a hop the probes never run (the task starts them); about 30 slices fit in 300 ms, fewer on a loaded machine.
    assert.ok(
      ticks >= 5,
      `a 1 ms interval ran ${ticks} times during ${Math.round(elapsedMs)} ms of a yielding task`,
    );
    assert.ok(hops >= 5, `only ${hops} of ${calls} calls to ctx.yield() let the loop turn`);
    assert.ok(
      hops <= elapsedMs / DEFAULT_SLICE_MS + 2,
      `${hops} hops in ${Math.round(elapsedMs)} ms: ctx.yield() gave up the loop before a slice was spent`,
    );
    assert.ok(
      calls >= 10 * hops,
      `${hops} hops in ${calls} calls: ctx.yield() is not cheap when the slice is not spent`,
    );
  });

  it('names an inline task that held the loop past blockThreshold, and suggests a thread', async () => {
    const seen = blocks.length;
    const job = await h.queue.enqueue(blocker, { ms: 300 });
    assert.equal((await h.finished(job.id)).state, 'succeeded');
    await waitFor(() => blocks.length > seen, { timeoutMs: 5_000, what: 'a loop:blocked event' });
    const [block] = blocksNaming(job.id);
    assert.ok(
      block,
      `no loop:blocked event names the blocker: ${JSON.stringify(blocks.slice(seen))}`,
    );
    assert.deepEqual(block.jobs, [{ id: job.id, task: 'blocker' }]);
    assert.ok(block.durationMs >= BLOCK_THRESHOLD_MS, `reported a block of ${block.durationMs} ms`);
    const warning = logLines.find((line) => line.msg.includes(`"blocker" (job ${job.id})`));
    assert.ok(warning, `no warning names the blocker; logged: ${JSON.stringify(logLines)}`);
    assert.equal(warning.level, 40, 'logged as a warning');
    assert.equal(warning.blockedMs, block.durationMs);
    assert.match(
      warning.msg,
      /blocked the event loop for \d+ ms: call ctx\.yield\(\) in long loops, or use mode: 'thread'/,
    );
  });

  it('does not report a task that yields as blocking the loop', async () => {
    const job = await h.queue.enqueue(yielding, { ms: 300 });
    assert.equal((await h.finished(job.id)).state, 'succeeded');
    // The watchdog ticks every threshold / 4: two ticks after the end, a block would have been reported.
    await new Promise((resolve) => setTimeout(resolve, (BLOCK_THRESHOLD_MS / 4) * 2 + 10));
    assert.deepEqual(blocksNaming(job.id), []);
    assert.equal(logLines.filter((line) => line.msg.includes(`(job ${job.id})`)).length, 0);
  });
});
