import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_ERROR_HISTORY, MAX_ERROR_MESSAGE } from '../../src/core/job.ts';
import type { ContractKit } from './kit.ts';

const WORKER = 'host:1:lease';

/**
 * What a lease is worth over a job's whole life: fencing that survives a manual retry, ids that are
 * never handed out twice, jobs claimed ahead kept apart from running ones, the failure history of
 * every attempt, and the last progress written with the outcome.
 */
export function leaseLifeContract(t: ContractKit): void {
  const fail = (message: string) => ({ name: 'Error', message });

  describe('fencing across cancel and retry', () => {
    it('refuses every write of a run that began before a cancel and a retry, even from the same worker', async () => {
      const { job } = await t.store().jobEnqueue(t.job());
      const [first] = await t.claim(1, { workerId: WORKER });
      await t.store().jobCancel({ id: job.id });
      await t.store().jobRetry({ id: job.id });
      const [second] = await t.claim(1, { workerId: WORKER });
      assert.equal(second?.id, job.id);
      assert.equal(second?.attempts, 1, 'a retry gives a fresh attempt budget');
      assert.ok(second!.fence > first!.fence, `fence ${second!.fence} should pass ${first!.fence}`);
      assert.equal(
        await t.store().jobSetProgress({ ...t.leaseOf(first!, WORKER), progress: '"stale"' }),
        false,
      );
      assert.deepEqual(
        await t
          .store()
          .jobRecordOutcomes([t.succeed(t.leaseOf(first!, WORKER), '"cancelled run"')]),
        [false],
      );
      assert.deepEqual(
        await t.store().jobRenewLeases({ leases: [t.leaseOf(first!, WORKER)], leaseMs: t.leaseMs }),
        [job.id],
      );
      assert.equal((await t.store().jobGet({ id: job.id }))?.state, 'running');
      assert.deepEqual(
        await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(second!, WORKER), '"new run"')]),
        [true],
      );
      const read = await t.store().jobGet({ id: job.id });
      assert.deepEqual([read?.state, read?.result, read?.progress], ['succeeded', 'new run', null]);
    });

    it('keeps fencing after a snooze hands the attempt back', async () => {
      await t.store().jobEnqueue(t.job());
      const [first] = await t.claim(1, { workerId: WORKER });
      await t
        .store()
        .jobRecordOutcomes([
          { kind: 'snoozed', lease: t.leaseOf(first!, WORKER), runAt: t.clock().now() },
        ]);
      const [second] = await t.claim(1, { workerId: WORKER });
      assert.equal(second?.attempts, first!.attempts, 'a snooze is not counted as an attempt');
      assert.deepEqual(await t.store().jobRecordOutcomes([t.succeed(t.leaseOf(first!, WORKER))]), [
        false,
      ]);
    });
  });

  describe('job ids', () => {
    it('are never handed out again, not after the newest jobs were deleted', async () => {
      await t.store().jobEnqueueMany([t.job(), t.job(), t.job()]);
      const claimed = await t.claim(3);
      await t.store().jobRecordOutcomes(claimed.map((job) => t.succeed(t.leaseOf(job))));
      const highest = Math.max(...claimed.map((job) => Number(job.id)));
      t.clock().advance(1);
      assert.equal(
        await t.store().jobDeleteFinished({ before: t.clock().now() }),
        2,
        'the newest job is kept',
      );
      assert.ok(await t.store().jobGet({ id: String(highest) }));
      const { job: next } = await t.store().jobEnqueue(t.job());
      assert.ok(Number(next.id) > highest, `job ${next.id} reuses an id at or below ${highest}`);
      const [many] = await t.store().jobEnqueueMany([t.job()]);
      assert.ok(Number(many!.job.id) > Number(next.id));
    });
  });

  describe('jobs claimed ahead', () => {
    it('read as claimed, not running, until a started record; counts and filters tell them apart; job:started comes with the lease', async () => {
      await t.store().jobEnqueueMany([t.job(), t.job(), t.job(), t.job()]);
      const started: string[] = [];
      const off = t.store().on('job:started', (event) => started.push(event.id));
      const claimed = await t.store().jobClaim({
        workerId: WORKER,
        queues: [{ name: 'default', limit: 3, start: 1 }],
        tasks: ['echo'],
        leaseMs: t.leaseMs,
      });
      assert.deepEqual(
        claimed.map((job) => job.state),
        ['running', 'claimed', 'claimed'],
      );
      assert.equal(claimed[0]!.startedAt, t.clock().now());
      assert.equal(claimed[1]!.startedAt, null);
      const counts = await t.store().jobCount({});
      assert.deepEqual([counts.queued, counts.claimed, counts.running], [1, 2, 1]);
      assert.deepEqual(
        (await t.store().jobList({ state: 'claimed' })).jobs.map((job) => job.id).sort(),
        [claimed[1]!.id, claimed[2]!.id].sort(),
      );
      assert.deepEqual(
        (await t.store().jobList({ state: 'running' })).jobs.map((job) => job.id),
        [claimed[0]!.id],
      );
      assert.deepEqual(
        (await t.store().queueList()).find((queue) => queue.name === 'default')?.counts.claimed,
        2,
      );

      assert.deepEqual(
        started,
        claimed.map((job) => job.id),
        'job:started announces every lease, claimed ahead or not',
      );
      t.clock().advance(5);
      assert.deepEqual(
        await t.store().jobRecordOutcomes([
          { kind: 'started', lease: t.leaseOf(claimed[1]!, WORKER) },
          { kind: 'started', lease: t.leaseOf(claimed[1]!, 'host:2:other') },
        ]),
        [true, false],
      );
      off();
      assert.equal(started.length, 3, 'a claimed job that starts is not announced again');
      const read = await t.store().jobGet({ id: claimed[1]!.id });
      assert.deepEqual([read?.state, read?.startedAt], ['running', t.clock().now()]);
      assert.deepEqual(
        await t
          .store()
          .jobRecordOutcomes([{ kind: 'started', lease: t.leaseOf(claimed[1]!, WORKER) }]),
        [false],
        'a run starts once',
      );
    });

    it('record a start and an end of the same run in one call', async () => {
      await t.store().jobEnqueue(t.job());
      const [ahead] = await t.store().jobClaim({
        workerId: WORKER,
        queues: [{ name: 'default', limit: 1, start: 0 }],
        tasks: ['echo'],
        leaseMs: t.leaseMs,
      });
      assert.equal(ahead?.state, 'claimed');
      const lease = t.leaseOf(ahead!, WORKER);
      assert.deepEqual(
        await t.store().jobRecordOutcomes([{ kind: 'started', lease }, t.succeed(lease, '"done"')]),
        [true, true],
      );
      const read = await t.store().jobGet({ id: ahead!.id });
      assert.deepEqual([read?.state, read?.result], ['succeeded', 'done']);
      assert.notEqual(read?.startedAt, null);
    });

    it('can be cancelled and released like running ones', async () => {
      await t.store().jobEnqueueMany([t.job(), t.job()]);
      const [a, b] = await t.store().jobClaim({
        workerId: WORKER,
        queues: [{ name: 'default', limit: 2, start: 0 }],
        tasks: ['echo'],
        leaseMs: t.leaseMs,
      });
      assert.equal((await t.store().jobCancel({ id: a!.id })).state, 'cancelled');
      assert.deepEqual(
        await t.store().jobRecordOutcomes([{ kind: 'released', lease: t.leaseOf(b!, WORKER) }]),
        [true],
      );
      const read = await t.store().jobGet({ id: b!.id });
      assert.deepEqual([read?.state, read?.attempts], ['queued', 0]);
    });
  });

  describe('failure history', () => {
    it('keeps the error of every attempt with its time, through retries, recovery and a manual retry', async () => {
      const { job } = await t.store().jobEnqueue(t.job({ maxAttempts: 3 }));
      assert.deepEqual(job.errors, []);
      const [first] = await t.claim(1);
      await t.store().jobRecordOutcomes([
        {
          kind: 'failed',
          lease: t.leaseOf(first!),
          error: { ...fail('first'), code: 'E_ONE', stack: 'Error: first\n  at x' },
          retryAt: t.clock().now(),
        },
      ]);
      const failedAt = t.clock().now();
      t.clock().advance(10);
      const [second] = await t.claim(1, { workerId: 'host:9:dies' });
      t.clock().advance(t.leaseMs + 1);
      await t.store().jobRecoverExpired();
      const [third] = await t.claim(1);
      await t
        .store()
        .jobRecordOutcomes([
          { kind: 'failed', lease: t.leaseOf(third!), error: fail('third'), retryAt: null },
        ]);
      const read = await t.store().jobGet({ id: job.id });
      assert.equal(read?.state, 'failed');
      assert.equal(read?.error?.message, 'third');
      assert.deepEqual(
        read?.errors.map((entry) => [
          entry.attempt,
          entry.message.slice(0, 20),
          entry.code ?? null,
        ]),
        [
          [1, 'first', 'E_ONE'],
          [2, 'the worker host:9:di', 'ERR_WORKER_DIED'],
          [3, 'third', null],
        ],
      );
      assert.equal(read?.errors[0]?.at, failedAt);
      assert.equal(second?.attempts, 2);
      assert.ok(!('stack' in read!.errors[0]!), 'the history keeps no stacks');
      await t.store().jobRetry({ id: job.id });
      assert.equal(
        (await t.store().jobGet({ id: job.id }))?.errors.length,
        3,
        'a manual retry keeps the history',
      );
    });

    it('is bounded: the newest attempts, each message cut short, and a NUL character stored safely', async () => {
      const attempts = MAX_ERROR_HISTORY + 5;
      const { job } = await t.store().jobEnqueue(t.job({ maxAttempts: attempts }));
      for (let attempt = 1; attempt <= attempts; attempt++) {
        const [claimed] = await t.claim(1);
        const message =
          attempt === attempts
            ? `nul\u0000here ${'x'.repeat(MAX_ERROR_MESSAGE * 2)}`
            : `failure ${attempt}`;
        const accepted = await t.store().jobRecordOutcomes([
          {
            kind: 'failed',
            lease: t.leaseOf(claimed!),
            error: fail(message),
            retryAt: attempt === attempts ? null : t.clock().now(),
          },
        ]);
        assert.deepEqual(accepted, [true]);
      }
      const { errors } = (await t.store().jobGet({ id: job.id }))!;
      assert.equal(errors.length, MAX_ERROR_HISTORY);
      assert.deepEqual(
        errors.map((entry) => entry.attempt),
        Array.from({ length: MAX_ERROR_HISTORY }, (_, i) => attempts - MAX_ERROR_HISTORY + 1 + i),
      );
      const last = errors[errors.length - 1]!;
      assert.equal(last.message.length, MAX_ERROR_MESSAGE);
      assert.ok(last.message.startsWith('nul\uFFFDhere '), last.message.slice(0, 20));
    });
  });

  describe('the last progress', () => {
    it('is written with the outcome, and an outcome without progress keeps what was saved', async () => {
      await t.store().jobEnqueueMany([t.job(), t.job()]);
      const [a, b] = await t.claim(2);
      await t.store().jobSetProgress({ ...t.leaseOf(a!), progress: '50' });
      await t.store().jobSetProgress({ ...t.leaseOf(b!), progress: '50' });
      assert.deepEqual(
        await t
          .store()
          .jobRecordOutcomes([
            { ...t.succeed(t.leaseOf(a!)), progress: '100' },
            t.succeed(t.leaseOf(b!)),
          ]),
        [true, true],
      );
      assert.equal((await t.store().jobGet({ id: a!.id }))?.progress, 100);
      assert.equal((await t.store().jobGet({ id: b!.id }))?.progress, 50);
      await t.store().jobEnqueue(t.job());
      const [c] = await t.claim(1);
      await t.store().jobRecordOutcomes([
        {
          kind: 'failed',
          lease: t.leaseOf(c!),
          error: fail('x'),
          retryAt: t.clock().now(),
          progress: '{"step":3}',
        },
      ]);
      assert.deepEqual((await t.store().jobGet({ id: c!.id }))?.progress, { step: 3 });
    });
  });
}
