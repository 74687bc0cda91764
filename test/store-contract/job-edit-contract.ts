import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import type { ClaimedJob, Job } from '../../src/core/job.ts';
import type { StoreEvents } from '../../src/store/contract.ts';
import type { ContractKit } from './kit.ts';

const stateError = (state: string) => (error: unknown) =>
  error instanceof OffloadError && error.code === 'ERR_JOB_STATE' && error.details.state === state;
const notFound = (error: unknown) =>
  error instanceof OffloadError && error.code === 'ERR_JOB_NOT_FOUND';

/**
 * Changing and removing jobs that have not started (and removing ended ones): each field, the
 * states that refuse, flow-control counters left alone, ids never reused, and the race with claims
 * that the state check in the writing statement decides.
 */
export function jobEditContract(t: ContractKit): void {
  const enqueue = async (overrides = {}) => (await t.store().jobEnqueue(t.job(overrides))).job;
  /** One job in each state a change refuses, by state. */
  const refusing = async (): Promise<Record<string, Job | ClaimedJob>> => {
    const store = t.store();
    await store.jobEnqueueMany([t.job(), t.job(), t.job(), t.job()]);
    const [a, b, c, d] = await t.claim(4);
    await store.jobRecordOutcomes([
      t.succeed(t.leaseOf(a!)),
      {
        kind: 'failed',
        lease: t.leaseOf(b!),
        error: { name: 'Error', message: 'no' },
        retryAt: null,
      },
    ]);
    await store.jobCancel({ id: c!.id });
    await store.jobEnqueue(t.job());
    const [ahead] = await store.jobClaim({
      workerId: 'host:1:a',
      queues: [{ name: 'default', limit: 1, start: 0 }],
      tasks: ['echo'],
      leaseMs: t.leaseMs,
    });
    return {
      running: d!,
      claimed: ahead!,
      succeeded: a!,
      failed: b!,
      cancelled: c!,
    };
  };

  describe('updating waiting jobs', () => {
    it('changes the run-at of a scheduled job, and the claim follows it', async () => {
      const job = await enqueue({ runAt: t.clock().now() + 60_000 });
      assert.equal(job.state, 'scheduled');
      assert.equal((await t.claim()).length, 0);
      const updated = await t.store().jobUpdate({ id: job.id, runAt: t.clock().now() });
      assert.equal(updated.state, 'queued');
      assert.equal(updated.runAt, t.clock().now());
      assert.deepEqual(
        (await t.claim()).map((claimed) => claimed.id),
        [job.id],
      );
      const later = await enqueue();
      const moved = await t.store().jobUpdate({ id: later.id, runAt: t.clock().now() + 5000 });
      assert.equal(moved.state, 'scheduled');
      assert.equal((await t.store().jobGet({ id: later.id }))?.runAt, t.clock().now() + 5000);
      assert.equal((await t.claim()).length, 0, 'moved back, it waits');
    });

    it('changes the priority, and the claim order with it', async () => {
      const first = await enqueue();
      const second = await enqueue();
      const updated = await t.store().jobUpdate({ id: second.id, priority: 7 });
      assert.equal(updated.priority, 7);
      assert.deepEqual(
        (await t.claim(1)).map((claimed) => claimed.id),
        [second.id],
      );
      assert.deepEqual(
        (await t.claim(1)).map((claimed) => claimed.id),
        [first.id],
      );
    });

    it('changes the payload and keeps everything else', async () => {
      const job = await enqueue({
        payload: '{"n":1}',
        priority: 3,
        maxAttempts: 5,
        uniqueKey: 'u-1',
        key: 'tenant-a',
      });
      const updated = await t.store().jobUpdate({ id: job.id, payload: '{"n":2,"to":"ada"}' });
      assert.deepEqual(updated.payload, { n: 2, to: 'ada' });
      const read = await t.store().jobGet({ id: job.id });
      assert.deepEqual(read?.payload, { n: 2, to: 'ada' });
      assert.equal(read?.priority, 3);
      assert.equal(read?.maxAttempts, 5);
      assert.equal(read?.uniqueKey, 'u-1');
      assert.equal(read?.key, 'tenant-a');
      assert.equal(read?.runAt, job.runAt);
      assert.equal(read?.attempts, 0);
      const [claimed] = await t.claim();
      assert.deepEqual(claimed?.payload, { n: 2, to: 'ada' });
    });

    it('changes several fields at once', async () => {
      const job = await enqueue();
      const runAt = t.clock().now() + 1000;
      const updated = await t.store().jobUpdate({
        id: job.id,
        runAt,
        priority: -2,
        payload: 'null',
      });
      assert.equal(updated.runAt, runAt);
      assert.equal(updated.priority, -2);
      assert.equal(updated.payload, null);
    });

    it('refuses a job that is claimed, running or ended, and leaves it as it was', async () => {
      for (const [state, job] of Object.entries(await refusing())) {
        const before = await t.store().jobGet({ id: job.id });
        await assert.rejects(
          t.store().jobUpdate({ id: job.id, priority: 99, payload: '"x"' }),
          stateError(state),
          state,
        );
        assert.deepEqual(await t.store().jobGet({ id: job.id }), before, `${state} unchanged`);
      }
    });

    it('says when there is no such job', async () => {
      await assert.rejects(t.store().jobUpdate({ id: '999999', priority: 1 }), notFound);
      await assert.rejects(t.store().jobUpdate({ id: 'not-an-id', priority: 1 }), notFound);
    });

    it('announces the change with its run-at', async () => {
      const job = await enqueue({ runAt: t.clock().now() + 60_000 });
      const events: Array<StoreEvents['job:updated']> = [];
      const off = t.store().on('job:updated', (event) => events.push(event));
      await t.store().jobUpdate({ id: job.id, runAt: t.clock().now() });
      off();
      assert.deepEqual(events, [
        {
          id: job.id,
          queue: 'default',
          task: 'echo',
          state: 'queued',
          attempt: 0,
          runAt: t.clock().now(),
        },
      ]);
    });

    it('tells other connections, so their idle workers look again', async () => {
      const other = await t.open();
      const job = await enqueue({ runAt: t.clock().now() + 60_000 });
      let heard = 0;
      other.on('store:changed', () => heard++);
      other.on('job:updated', () => heard++);
      await t.store().jobUpdate({ id: job.id, runAt: t.clock().now() });
      const deadline = Date.now() + 5000;
      while (heard === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(heard > 0, 'the other connection heard of the change');
      assert.deepEqual(
        (await t.claim(10, { on: other })).map((claimed) => claimed.id),
        [job.id],
      );
    });
  });

  describe('removing jobs', () => {
    it('deletes a queued or scheduled job: not read, listed, counted or claimed', async () => {
      const queued = await enqueue();
      const scheduled = await enqueue({ runAt: t.clock().now() + 60_000 });
      const kept = await enqueue();
      const removed = await t.store().jobRemove({ id: queued.id });
      assert.equal(removed.id, queued.id);
      assert.equal(removed.state, 'queued');
      assert.equal((await t.store().jobRemove({ id: scheduled.id })).state, 'scheduled');
      assert.equal(await t.store().jobGet({ id: queued.id }), undefined);
      assert.equal(await t.store().jobGet({ id: scheduled.id }), undefined);
      const { jobs } = await t.store().jobList({});
      assert.deepEqual(
        jobs.map((job) => job.id),
        [kept.id],
      );
      const counts = await t.store().jobCount({});
      assert.equal(counts.queued + counts.scheduled, 1);
      t.clock().advance(120_000);
      assert.deepEqual(
        (await t.claim()).map((job) => job.id),
        [kept.id],
      );
    });

    it('deletes succeeded, failed and cancelled jobs, and refuses claimed and running ones', async () => {
      const jobs = await refusing();
      for (const state of ['succeeded', 'failed', 'cancelled']) {
        const removed = await t.store().jobRemove({ id: jobs[state]!.id });
        assert.equal(removed.state, state);
        assert.equal(await t.store().jobGet({ id: jobs[state]!.id }), undefined, state);
      }
      for (const state of ['running', 'claimed']) {
        await assert.rejects(t.store().jobRemove({ id: jobs[state]!.id }), stateError(state));
        assert.equal((await t.store().jobGet({ id: jobs[state]!.id }))?.state, state);
      }
      const [accepted] = await t
        .store()
        .jobRecordOutcomes([t.succeed(t.leaseOf(jobs.running as ClaimedJob))]);
      assert.equal(accepted, true, 'the refused removal left the lease alone');
    });

    it('removes the newest job too, and never hands its id out again', async () => {
      await enqueue();
      const newest = await enqueue({ uniqueKey: 'only-one', idempotencyKey: 'request-1' });
      await t.store().jobRemove({ id: newest.id });
      assert.equal(await t.store().jobGet({ id: newest.id }), undefined);
      await assert.rejects(t.store().jobRemove({ id: newest.id }), notFound);
      await assert.rejects(t.store().jobUpdate({ id: newest.id, priority: 1 }), notFound);
      const counts = await t.store().jobCount({});
      assert.equal(
        Object.values(counts).reduce((a, b) => a + b, 0),
        1,
      );
      assert.deepEqual(
        (await t.store().queueList()).map((queue) => [queue.name, queue.counts.queued]),
        [['default', 1]],
      );
      const next = await enqueue({ uniqueKey: 'only-one', idempotencyKey: 'request-1' });
      assert.ok(Number(next.id) > Number(newest.id), `job ${next.id} reuses id ${newest.id}`);
      const replay = await t
        .store()
        .jobEnqueue(t.job({ uniqueKey: 'only-one', idempotencyKey: 'request-1' }));
      assert.equal(replay.created, false);
      assert.equal(replay.job.id, next.id, 'the keys of the removed job were free');
      t.clock().advance(1);
      await t.store().jobDeleteFinished({ before: t.clock().now() });
      assert.equal((await t.store().jobList({})).jobs.length, 2);
    });

    it('says when there is no such job', async () => {
      await assert.rejects(t.store().jobRemove({ id: '999999' }), notFound);
      await assert.rejects(t.store().jobRemove({ id: 'x' }), notFound);
    });

    it('announces the removal with the state the job had', async () => {
      const job = await enqueue();
      await enqueue();
      const events: Array<StoreEvents['job:removed']> = [];
      const off = t.store().on('job:removed', (event) => events.push(event));
      await t.store().jobRemove({ id: job.id });
      off();
      assert.deepEqual(events, [
        { id: job.id, queue: 'default', task: 'echo', state: 'queued', attempt: 0 },
      ]);
    });

    it('leaves the slot counters of a limited queue as they were', async () => {
      await t
        .store()
        .limitsSet({ queue: 'default', layer: 'runtime', limits: { keyConcurrency: 1 } });
      const ids: string[] = [];
      for (const key of ['a', 'a', 'a', 'b'])
        ids.push((await enqueue({ key, payload: `"${ids.length}"` })).id);
      const first = await t.claim(10);
      assert.deepEqual(first.map((job) => job.key).sort(), ['a', 'b']);
      const runningA = first.find((job) => job.key === 'a')!;
      // A job that held a slot, gave it back (snoozed) and waits again.
      await t
        .store()
        .jobRecordOutcomes([
          { kind: 'snoozed', lease: t.leaseOf(runningA), runAt: t.clock().now() + 60_000 },
        ]);
      await t.store().jobRemove({ id: runningA.id });
      const waiting = ids.filter((id) => id !== runningA.id && !first.some((j) => j.id === id));
      await t.store().jobRemove({ id: waiting[0]! });
      const state = await t.store().limitsGet({ queue: 'default' });
      assert.equal(state?.running, 1, 'b still runs');
      assert.deepEqual(
        state?.keys.map((key) => [key.key, key.running]),
        [['b', 1]],
      );
      const next = await t.claim(10);
      assert.deepEqual(
        next.map((job) => job.id),
        [waiting[1]],
        'a has its slot free',
      );
      assert.equal((await t.claim(10)).length, 0, 'and only one');
    });
  });

  describe('changes racing claims', () => {
    const JOBS = 120;

    /** Claims on `claimers` connections until none finds a job; the ids each claim returned. */
    const claimAll = async (claimers: number) => {
      const stores = await Promise.all(Array.from({ length: claimers }, () => t.open()));
      const claimed: ClaimedJob[] = [];
      await Promise.all(
        stores.map(async (store, n) => {
          for (let empty = 0; empty < 3;) {
            const jobs = await t.claim(3, { on: store, workerId: `host:${n}:race` });
            claimed.push(...jobs);
            empty = jobs.length === 0 ? empty + 1 : 0;
            await new Promise((r) => setImmediate(r));
          }
        }),
      );
      return claimed;
    };

    it('each job is removed or claimed, never both; the loser hears ERR_JOB_STATE', async () => {
      const jobs = (
        await t.store().jobEnqueueMany(Array.from({ length: JOBS }, () => t.job()))
      ).map((r) => r.job);
      const removals = Promise.all(
        jobs.map(async (job) => {
          await new Promise((r) => setImmediate(r));
          return t
            .store()
            .jobRemove({ id: job.id })
            .then(
              () => 'removed' as const,
              (error: unknown) => {
                assert.ok(stateError('running')(error), String(error));
                return 'conflict' as const;
              },
            );
        }),
      );
      const [claimed, outcomes] = await Promise.all([claimAll(3), removals]);
      const claimedIds = new Set(claimed.map((job) => job.id));
      assert.equal(claimedIds.size, claimed.length, 'no job claimed twice');
      jobs.forEach((job, i) => {
        if (outcomes[i] === 'removed') assert.ok(!claimedIds.has(job.id), `${job.id} both`);
        else assert.ok(claimedIds.has(job.id), `${job.id} neither`);
      });
      for (const job of jobs) {
        const read = await t.store().jobGet({ id: job.id });
        assert.equal(read === undefined, !claimedIds.has(job.id));
      }
    });

    it('each job is claimed with the payload an accepted update gave it; a refused update was claimed first', async () => {
      const jobs = (
        await t.store().jobEnqueueMany(Array.from({ length: JOBS }, () => t.job({ payload: '0' })))
      ).map((r) => r.job);
      const updates = Promise.all(
        jobs.map(async (job) => {
          await new Promise((r) => setImmediate(r));
          return t
            .store()
            .jobUpdate({ id: job.id, payload: '1' })
            .then(
              () => 'updated' as const,
              (error: unknown) => {
                assert.ok(stateError('running')(error), String(error));
                return 'conflict' as const;
              },
            );
        }),
      );
      const [claimed, outcomes] = await Promise.all([claimAll(3), updates]);
      const byId = new Map(claimed.map((job) => [job.id, job]));
      assert.equal(byId.size, claimed.length, 'no job claimed twice');
      const left = await t.claim(JOBS);
      for (const job of left) byId.set(job.id, job);
      jobs.forEach((job, i) => {
        const run = byId.get(job.id);
        assert.ok(run, `job ${job.id} was never claimed`);
        assert.equal(
          run.payload,
          outcomes[i] === 'updated' ? 1 : 0,
          `job ${job.id}: ${outcomes[i]} but claimed with payload ${String(run.payload)}`,
        );
      });
    });
  });
}
