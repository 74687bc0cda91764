import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContractKit } from './kit.ts';

/** `Job.placement` and `Job.outputTail`: what the last run leaves on the record with its outcome. */
export function runFactsContract(t: ContractKit): void {
  describe('placement and output tail', () => {
    it('are null until a run records them', async () => {
      const { job } = await t.store().jobEnqueue(t.job());
      assert.equal(job.placement, null);
      assert.equal(job.outputTail, null);
      const read = await t.store().jobGet({ id: job.id });
      assert.deepEqual([read?.placement, read?.outputTail], [null, null]);
    });

    it('are written with successes, one by one and in a batch, and absent ones read as null', async () => {
      await t.store().jobEnqueueMany([t.job(), t.job(), t.job()]);
      const [a, b, c] = await t.claim(3);
      const accepted = await t.store().jobRecordOutcomes([
        {
          ...t.succeed(t.leaseOf(a!)),
          placement: 'process: isolate: true',
          outputTail: 'line one\nline two ✓\n',
        },
        {
          ...t.succeed(t.leaseOf(b!)),
          placement: 'thread: auto: a run holds the event loop for 12.0 ms',
          outputTail: null,
        },
        t.succeed(t.leaseOf(c!)),
      ]);
      assert.deepEqual(accepted, [true, true, true]);
      const [ra, rb, rc] = await Promise.all(
        [a, b, c].map((job) => t.store().jobGet({ id: job!.id })),
      );
      assert.deepEqual(
        [ra?.placement, ra?.outputTail],
        ['process: isolate: true', 'line one\nline two ✓\n'],
      );
      assert.deepEqual(
        [rb?.placement, rb?.outputTail],
        ['thread: auto: a run holds the event loop for 12.0 ms', null],
      );
      assert.deepEqual([rc?.placement, rc?.outputTail], [null, null]);
      const listed = await t.store().jobList({ state: 'succeeded' });
      assert.equal(
        listed.jobs.find((job) => job.id === a!.id)?.outputTail,
        'line one\nline two ✓\n',
      );
    });

    it('are written with failures, retries and snoozes, and replaced by the next run', async () => {
      await t.store().jobEnqueue(t.job({ maxAttempts: 2 }));
      const [first] = await t.claim();
      const error = { name: 'Error', message: 'boom' };
      await t.store().jobRecordOutcomes([
        {
          kind: 'failed',
          lease: t.leaseOf(first!),
          error,
          retryAt: t.clock().now(),
          placement: 'process: isolate: true',
          outputTail: '',
        },
      ]);
      const retrying = await t.store().jobGet({ id: first!.id });
      assert.deepEqual([retrying?.placement, retrying?.outputTail], ['process: isolate: true', '']);
      const [second] = await t.claim();
      await t.store().jobRecordOutcomes([
        {
          kind: 'snoozed',
          lease: t.leaseOf(second!),
          runAt: t.clock().now(),
          placement: 'inline: auto: starts inline',
          outputTail: null,
        },
      ]);
      const snoozed = await t.store().jobGet({ id: first!.id });
      assert.deepEqual(
        [snoozed?.placement, snoozed?.outputTail],
        ['inline: auto: starts inline', null],
      );
      const [third] = await t.claim();
      await t.store().jobRecordOutcomes([
        {
          kind: 'failed',
          lease: t.leaseOf(third!),
          error,
          retryAt: null,
          placement: 'process: isolate: true',
          outputTail: 'x'.repeat(4096),
        },
      ]);
      const failed = await t.store().jobGet({ id: first!.id });
      assert.equal(failed?.state, 'failed');
      assert.equal(failed?.outputTail, 'x'.repeat(4096));
    });
  });
}
