import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { OffloadError } from '../../src/core/errors.ts';
import type {
  EnqueueParams,
  JobOutcome,
  LeaseRef,
  Store,
  StoreEvents,
} from '../../src/store/contract.ts';
import type { StoreFactory } from './factory.ts';
import type { ContractKit } from './kit.ts';
import { tokensContract } from './tokens-contract.ts';
import { webhooksContract } from './webhooks-contract.ts';
import { workersContract } from './workers-contract.ts';
import { idempotencyContract } from './idempotency-contract.ts';
import { runFactsContract } from './run-facts-contract.ts';
import { inputRangesContract } from './input-ranges-contract.ts';
import { outcomeCheckContract } from './outcome-check-contract.ts';
import { leaseLifeContract } from './lease-life-contract.ts';
import { flowContract } from './flow-contract.ts';
import { bulkContract } from './bulk-contract.ts';
import { jobEditContract } from './job-edit-contract.ts';
import { metaContract } from './meta-contract.ts';

const WORKER = 'host:1:a';
const LEASE_MS = 10_000;

/**
 * The store contract: every store runs this suite unchanged, against a real database.
 * `makeFactory` gives each test its own empty data.
 */
export function storeContract(label: string, makeFactory: () => Promise<StoreFactory>): void {
  describe(`store contract: ${label}`, () => {
    let factory: StoreFactory;
    let clock: ManualClock;
    let store: Store;
    const opened: Store[] = [];

    const open = async () => {
      const instance = await factory.open({ clock });
      opened.push(instance);
      return instance;
    };

    beforeEach(async () => {
      factory = await makeFactory();
      clock = new ManualClock();
      store = await open();
    });

    afterEach(async () => {
      for (const instance of opened.splice(0)) await instance.close();
      await factory.destroy();
    });

    const job = (overrides: Partial<EnqueueParams> = {}): EnqueueParams => ({
      task: 'echo',
      queue: 'default',
      payload: '{"n":1}',
      priority: 0,
      runAt: clock.now(),
      maxAttempts: 3,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
      ...overrides,
    });

    const claim = (
      limit = 10,
      params: { queue?: string; tasks?: string[]; workerId?: string; on?: Store } = {},
    ) =>
      (params.on ?? store).jobClaim({
        workerId: params.workerId ?? WORKER,
        queues: [{ name: params.queue ?? 'default', limit }],
        tasks: params.tasks ?? ['echo'],
        leaseMs: LEASE_MS,
      });

    const leaseOf = (
      claimed: { id: string; attempts: number; fence: number },
      workerId = WORKER,
    ): LeaseRef => ({
      id: claimed.id,
      workerId,
      attempt: claimed.attempts,
      fence: claimed.fence,
    });

    const succeed = (lease: LeaseRef, result = '"ok"'): JobOutcome => ({
      kind: 'succeeded',
      lease,
      result,
    });

    describe('enqueue', () => {
      it('stores a job that reads back whole', async () => {
        const { job: created, created: isNew } = await store.jobEnqueue(
          job({ payload: '{"to":"ada","n":[1,2]}', priority: 5, maxAttempts: 4, timeoutMs: 500 }),
        );
        assert.equal(isNew, true);
        assert.equal(created.state, 'queued');
        assert.deepEqual(created.payload, { to: 'ada', n: [1, 2] });
        const read = await store.jobGet({ id: created.id });
        assert.ok(read);
        assert.equal(read.task, 'echo');
        assert.equal(read.queue, 'default');
        assert.equal(read.priority, 5);
        assert.equal(read.maxAttempts, 4);
        assert.equal(read.timeoutMs, 500);
        assert.equal(read.attempts, 0);
        assert.equal(read.createdAt, clock.now());
        assert.deepEqual(read.payload, { to: 'ada', n: [1, 2] });
      });

      it('gives increasing ids in enqueue order, also in bulk', async () => {
        const one = await store.jobEnqueue(job());
        const many = await store.jobEnqueueMany(
          Array.from({ length: 250 }, (_, n) => job({ payload: String(n) })),
        );
        const ids = [one.job.id, ...many.map((r) => r.job.id)].map(Number);
        for (let i = 1; i < ids.length; i++)
          assert.ok(ids[i]! > ids[i - 1]!, `id ${ids[i]} after ${ids[i - 1]}`);
        assert.deepEqual(
          many.map((r) => r.job.payload),
          Array.from({ length: 250 }, (_, n) => n),
        );
        const counts = await store.jobCount({});
        assert.equal(counts.queued, 251);
      });

      it('writes a bulk enqueue all or nothing', async () => {
        const broken = job({ task: null as unknown as string });
        await assert.rejects(store.jobEnqueueMany([job(), job(), broken]));
        assert.equal((await store.jobCount({})).queued, 0);
      });

      it('returns the unfinished job that holds a unique key instead of adding another', async () => {
        const first = await store.jobEnqueue(job({ uniqueKey: 'user-7' }));
        const again = await store.jobEnqueue(job({ uniqueKey: 'user-7', payload: '{"n":2}' }));
        assert.equal(again.created, false);
        assert.equal(again.job.id, first.job.id);
        assert.deepEqual(again.job.payload, { n: 1 });
        const [claimed] = await claim();
        assert.ok(claimed);
        const whileRunning = await store.jobEnqueue(job({ uniqueKey: 'user-7' }));
        assert.equal(whileRunning.job.id, first.job.id, 'a running job still holds its key');
        await store.jobRecordOutcomes([succeed(leaseOf(claimed))]);
        const after = await store.jobEnqueue(job({ uniqueKey: 'user-7' }));
        assert.equal(after.created, true, 'a finished job frees its key');
        assert.notEqual(after.job.id, first.job.id);
      });

      it('dedupes unique keys inside one bulk enqueue', async () => {
        const results = await store.jobEnqueueMany([
          job({ uniqueKey: 'k' }),
          job({ uniqueKey: 'k' }),
          job(),
        ]);
        assert.deepEqual(
          results.map((r) => r.created),
          [true, false, true],
        );
        assert.equal(results[1]!.job.id, results[0]!.job.id);
      });
    });

    describe('claim', () => {
      it('claims by priority, then run-at, then enqueue order', async () => {
        const now = clock.now();
        const a = await store.jobEnqueue(job({ payload: '"a"', runAt: now - 10 }));
        const b = await store.jobEnqueue(job({ payload: '"b"', priority: 10 }));
        const c = await store.jobEnqueue(job({ payload: '"c"', runAt: now - 20 }));
        const d = await store.jobEnqueue(job({ payload: '"d"', runAt: now - 10 }));
        const e = await store.jobEnqueue(job({ payload: '"e"', priority: -1, runAt: now - 1000 }));
        const claimed = await claim(10);
        assert.deepEqual(
          claimed.map((j) => j.id),
          [b, c, a, d, e].map((r) => r.job.id),
        );
      });

      it('leases what it claims and counts the attempt', async () => {
        await store.jobEnqueue(job());
        const [claimed] = await claim();
        assert.ok(claimed);
        assert.equal(claimed.state, 'running');
        assert.equal(claimed.attempts, 1);
        assert.equal(claimed.leaseOwner, WORKER);
        assert.equal(claimed.leaseExpiresAt, clock.now() + LEASE_MS);
        assert.equal(claimed.startedAt, clock.now());
        assert.deepEqual(await claim(), [], 'a leased job is not claimed twice');
      });

      it('respects the limit, the queue and the task list', async () => {
        await store.jobEnqueueMany([
          job(),
          job(),
          job(),
          job({ queue: 'mail' }),
          job({ task: 'other' }),
        ]);
        assert.equal((await claim(2)).length, 2);
        assert.equal((await claim(10)).length, 1);
        const mail = await claim(10, { queue: 'mail' });
        assert.equal(mail.length, 1);
        assert.equal(mail[0]!.queue, 'mail');
        assert.equal((await claim(10, { tasks: ['other'] })).length, 1);
      });

      it('claims from several queues in one call', async () => {
        await store.jobEnqueueMany([job(), job({ queue: 'mail' }), job({ queue: 'mail' })]);
        const claimed = await store.jobClaim({
          workerId: WORKER,
          queues: [
            { name: 'default', limit: 5 },
            { name: 'mail', limit: 1 },
          ],
          tasks: ['echo'],
          leaseMs: LEASE_MS,
        });
        assert.deepEqual(claimed.map((j) => j.queue).sort(), ['default', 'mail']);
      });

      it('holds a delayed job as scheduled until its run-at', async () => {
        const { job: delayed } = await store.jobEnqueue(job({ runAt: clock.now() + 5000 }));
        assert.equal(delayed.state, 'scheduled');
        assert.equal((await store.jobCount({})).scheduled, 1);
        assert.deepEqual(await claim(), []);
        assert.equal(
          await store.jobNextRunAt({ queues: ['default'], tasks: ['echo'] }),
          clock.now() + 5000,
        );
        clock.advance(5000);
        assert.equal((await store.jobGet({ id: delayed.id }))?.state, 'queued');
        assert.equal((await claim()).length, 1);
        assert.equal(await store.jobNextRunAt({ queues: ['default'], tasks: ['echo'] }), null);
      });

      it('skips paused queues until they resume', async () => {
        await store.jobEnqueue(job());
        await store.queuePause({ name: 'default' });
        assert.deepEqual(await claim(), []);
        assert.equal(await store.jobNextRunAt({ queues: ['default'], tasks: ['echo'] }), null);
        const [info] = (await store.queueList()).filter((q) => q.name === 'default');
        assert.equal(info?.paused, true);
        assert.equal(info?.counts.queued, 1);
        await store.queueResume({ name: 'default' });
        assert.equal((await claim()).length, 1);
      });

      it('never hands one job to two claimers racing on separate connections', async () => {
        const total = 600;
        await store.jobEnqueueMany(
          Array.from({ length: total }, (_, n) => job({ payload: String(n) })),
        );
        const claimers = await Promise.all([open(), open(), open(), open()]);
        const seen: string[] = [];
        await Promise.all(
          claimers.map(async (instance, k) => {
            for (;;) {
              const got = await claim(7, { on: instance, workerId: `host:${k}:w` });
              if (got.length === 0) return;
              seen.push(...got.map((j) => j.id));
            }
          }),
        );
        assert.equal(seen.length, total);
        assert.equal(new Set(seen).size, total);
      });
    });

    describe('outcomes and fencing', () => {
      it('records a success with its result', async () => {
        await store.jobEnqueue(job());
        const [claimed] = await claim();
        clock.advance(25);
        assert.deepEqual(await store.jobRecordOutcomes([succeed(leaseOf(claimed!), '{"sum":3}')]), [
          true,
        ]);
        const done = await store.jobGet({ id: claimed!.id });
        assert.equal(done?.state, 'succeeded');
        assert.deepEqual(done?.result, { sum: 3 });
        assert.equal(done?.finishedAt, clock.now());
        assert.equal(done?.leaseOwner, null);
      });

      it('refuses outcomes from a worker whose lease is not the live one', async () => {
        await store.jobEnqueue(job());
        const [claimed] = await claim();
        const lease = leaseOf(claimed!);
        assert.deepEqual(
          await store.jobRecordOutcomes([succeed({ ...lease, workerId: 'host:2:b' })]),
          [false],
        );
        assert.deepEqual(
          await store.jobRecordOutcomes([succeed({ ...lease, fence: lease.fence + 1 })]),
          [false],
        );
        assert.equal((await store.jobGet({ id: lease.id }))?.state, 'running');
      });

      it('fences a stale worker after its lease expired and the job moved on', async () => {
        await store.jobEnqueue(job());
        const [first] = await claim(1, { workerId: 'host:1:old' });
        clock.advance(LEASE_MS + 1);
        const recovered = await store.jobRecoverExpired();
        assert.deepEqual(recovered.requeued, [first!.id]);
        const [second] = await claim(1, { workerId: 'host:2:new' });
        assert.equal(second?.id, first!.id);
        assert.equal(second?.attempts, 2);
        const stale = await store.jobRecordOutcomes([succeed(leaseOf(first!, 'host:1:old'))]);
        assert.deepEqual(stale, [false]);
        assert.equal(
          await store.jobSetProgress({ ...leaseOf(first!, 'host:1:old'), progress: '50' }),
          false,
        );
        assert.deepEqual(
          await store.jobRecordOutcomes([succeed(leaseOf(second!, 'host:2:new'), '"new"')]),
          [true],
        );
        assert.equal((await store.jobGet({ id: first!.id }))?.result, 'new');
      });

      it('records many outcomes of several workers in one call', async () => {
        await store.jobEnqueueMany(Array.from({ length: 6 }, () => job()));
        const mine = await claim(3, { workerId: 'host:1:a' });
        const theirs = await claim(3, { workerId: 'host:2:b' });
        const accepted = await store.jobRecordOutcomes([
          ...mine.map((j) => succeed(leaseOf(j, 'host:1:a'))),
          ...theirs.map((j) => succeed(leaseOf(j, 'host:2:b'))),
          succeed(leaseOf(theirs[0]!, 'host:1:a')),
        ]);
        assert.deepEqual(accepted, [true, true, true, true, true, true, false]);
        assert.equal((await store.jobCount({})).succeeded, 6);
      });

      it('schedules a retry with the error kept, then fails for good', async () => {
        await store.jobEnqueue(job({ maxAttempts: 2 }));
        const [first] = await claim();
        const error = {
          name: 'Error',
          message: 'smtp down',
          stack: 'Error: smtp down\n    at send',
        };
        await store.jobRecordOutcomes([
          { kind: 'failed', lease: leaseOf(first!), error, retryAt: clock.now() + 1000 },
        ]);
        const waiting = await store.jobGet({ id: first!.id });
        assert.equal(waiting?.state, 'scheduled');
        assert.deepEqual(waiting?.error, { ...error, attempt: 1 });
        assert.deepEqual(await claim(), []);
        clock.advance(1000);
        const [second] = await claim();
        assert.equal(second?.attempts, 2);
        await store.jobRecordOutcomes([
          {
            kind: 'failed',
            lease: leaseOf(second!),
            error: { name: 'Error', message: 'still down' },
            retryAt: null,
          },
        ]);
        const failed = await store.jobGet({ id: first!.id });
        assert.equal(failed?.state, 'failed');
        assert.equal(failed?.error?.message, 'still down');
        assert.equal(failed?.error?.attempt, 2);
        assert.equal(failed?.finishedAt, clock.now());
      });

      it('does not count snoozed or released runs as attempts', async () => {
        await store.jobEnqueue(job());
        const [first] = await claim();
        await store.jobRecordOutcomes([
          { kind: 'snoozed', lease: leaseOf(first!), runAt: clock.now() + 500 },
        ]);
        const snoozed = await store.jobGet({ id: first!.id });
        assert.equal(snoozed?.state, 'scheduled');
        assert.equal(snoozed?.attempts, 0);
        clock.advance(500);
        const [second] = await claim();
        assert.equal(second?.attempts, 1);
        await store.jobRecordOutcomes([{ kind: 'released', lease: leaseOf(second!) }]);
        const released = await store.jobGet({ id: first!.id });
        assert.equal(released?.state, 'queued');
        assert.equal(released?.attempts, 0);
      });

      it('keeps a renewed lease alive past its first expiry', async () => {
        await store.jobEnqueue(job());
        const [claimed] = await claim();
        clock.advance(LEASE_MS - 1);
        assert.deepEqual(
          await store.jobRenewLeases({ leases: [leaseOf(claimed!)], leaseMs: LEASE_MS }),
          [],
        );
        clock.advance(LEASE_MS - 1);
        assert.deepEqual(await store.jobRecoverExpired(), { requeued: [], failed: [] });
        assert.equal((await store.jobGet({ id: claimed!.id }))?.leaseExpiresAt, clock.now() + 1);
      });

      it('reports lost leases at renewal', async () => {
        await store.jobEnqueueMany([job(), job()]);
        const [a, b] = await claim();
        await store.jobCancel({ id: a!.id });
        const lost = await store.jobRenewLeases({
          leases: [leaseOf(a!), leaseOf(b!)],
          leaseMs: LEASE_MS,
        });
        assert.deepEqual(lost, [a!.id]);
      });

      it('fails a job whose worker died on its last attempt', async () => {
        await store.jobEnqueue(job({ maxAttempts: 1 }));
        const [claimed] = await claim();
        clock.advance(LEASE_MS + 1);
        const recovered = await store.jobRecoverExpired();
        assert.deepEqual(recovered, { requeued: [], failed: [claimed!.id] });
        const failed = await store.jobGet({ id: claimed!.id });
        assert.equal(failed?.state, 'failed');
        assert.equal(failed?.error?.code, 'ERR_WORKER_DIED');
        assert.match(failed?.error?.message ?? '', /host:1:a/);
      });

      it('saves progress of a live lease', async () => {
        await store.jobEnqueue(job());
        const [claimed] = await claim();
        assert.equal(
          await store.jobSetProgress({ ...leaseOf(claimed!), progress: '{"done":40}' }),
          true,
        );
        assert.deepEqual((await store.jobGet({ id: claimed!.id }))?.progress, { done: 40 });
      });
    });

    describe('cancel and retry', () => {
      it('cancels waiting and running jobs, and refuses finished or unknown ones', async () => {
        const queued = (await store.jobEnqueue(job())).job;
        const delayed = (await store.jobEnqueue(job({ runAt: clock.now() + 60_000 }))).job;
        assert.equal((await store.jobCancel({ id: delayed.id })).state, 'cancelled');
        const [running] = await claim();
        assert.equal(running?.id, queued.id);
        const cancelled = await store.jobCancel({ id: queued.id });
        assert.equal(cancelled.state, 'cancelled');
        assert.deepEqual(await store.jobRecordOutcomes([succeed(leaseOf(running!))]), [false]);
        await assert.rejects(
          store.jobCancel({ id: queued.id }),
          (e: unknown) => e instanceof OffloadError && e.code === 'ERR_JOB_STATE',
        );
        await assert.rejects(
          store.jobCancel({ id: '999999' }),
          (e: unknown) => e instanceof OffloadError && e.code === 'ERR_JOB_NOT_FOUND',
        );
      });

      it('retries a failed job by hand with a fresh budget, and only failed or cancelled ones', async () => {
        await store.jobEnqueue(job({ maxAttempts: 1 }));
        const [claimed] = await claim();
        await store.jobRecordOutcomes([
          {
            kind: 'failed',
            lease: leaseOf(claimed!),
            error: { name: 'Error', message: 'x' },
            retryAt: null,
          },
        ]);
        const retried = await store.jobRetry({ id: claimed!.id });
        assert.equal(retried.state, 'queued');
        assert.equal(retried.attempts, 0);
        await assert.rejects(
          store.jobRetry({ id: claimed!.id }),
          (e: unknown) => e instanceof OffloadError && e.code === 'ERR_JOB_STATE',
        );
        const [again] = await claim();
        assert.equal(again?.attempts, 1);
      });
    });

    describe('listing, counting and retention', () => {
      it('lists newest first with cursor paging and filters', async () => {
        await store.jobEnqueueMany(
          Array.from({ length: 120 }, (_, n) =>
            job({ queue: n % 2 ? 'odd' : 'even', task: n % 3 ? 'echo' : 'other' }),
          ),
        );
        const pages: string[][] = [];
        let cursor: string | null = null;
        do {
          const page: { jobs: Array<{ id: string }>; nextCursor: string | null } =
            await store.jobList({ limit: 50, cursor });
          pages.push(page.jobs.map((j) => j.id));
          cursor = page.nextCursor;
        } while (cursor);
        assert.deepEqual(
          pages.map((p) => p.length),
          [50, 50, 20],
        );
        const all = pages.flat().map(Number);
        assert.equal(new Set(all).size, 120);
        assert.deepEqual(
          all,
          [...all].sort((x, y) => y - x),
        );
        const odd = await store.jobList({ queue: 'odd', limit: 1000 });
        assert.equal(odd.jobs.length, 60);
        assert.ok(odd.jobs.every((j) => j.queue === 'odd'));
        const other = await store.jobList({ task: 'other', state: 'queued', limit: 1000 });
        assert.equal(other.jobs.length, 40);
        assert.equal((await store.jobCount({ queue: 'even', task: 'other' })).queued, 20);
      });

      it('counts and lists by derived state', async () => {
        await store.jobEnqueueMany([job(), job(), job({ runAt: clock.now() + 1000 })]);
        const [running] = await claim(1);
        const counts = await store.jobCount({});
        assert.deepEqual(counts, {
          scheduled: 1,
          queued: 1,
          claimed: 0,
          running: 1,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
        });
        const scheduled = await store.jobList({ state: 'scheduled' });
        assert.equal(scheduled.jobs.length, 1);
        assert.equal(scheduled.jobs[0]!.state, 'scheduled');
        assert.deepEqual(
          (await store.jobList({ state: 'running' })).jobs.map((j) => j.id),
          [running!.id],
        );
      });

      it('deletes finished jobs older than the retention cut-off, and nothing else', async () => {
        await store.jobEnqueueMany([job(), job(), job()]);
        const [old] = await claim(1);
        await store.jobRecordOutcomes([succeed(leaseOf(old!))]);
        clock.advance(10_000);
        const [recent] = await claim(1);
        await store.jobRecordOutcomes([succeed(leaseOf(recent!))]);
        const deleted = await store.jobDeleteFinished({ before: clock.now() - 5_000 });
        assert.equal(deleted, 1);
        assert.equal(await store.jobGet({ id: old!.id }), undefined);
        assert.ok(await store.jobGet({ id: recent!.id }));
        assert.equal((await store.jobCount({})).queued, 1);
      });

      it('registers tasks and lists queues with counts', async () => {
        await store.taskRegister({
          tasks: [
            {
              name: 'echo',
              queue: 'default',
              mode: 'inline',
              attempts: 3,
              priority: 0,
              timeout: 0,
            },
          ],
        });
        await store.taskRegister({
          tasks: [
            {
              name: 'echo',
              queue: 'default',
              mode: 'thread',
              attempts: 5,
              priority: 1,
              timeout: 100,
            },
          ],
        });
        assert.deepEqual(await store.taskList(), [
          {
            name: 'echo',
            queue: 'default',
            mode: 'thread',
            attempts: 5,
            priority: 1,
            timeout: 100,
          },
        ]);
        await store.jobEnqueueMany([job(), job({ queue: 'mail' })]);
        const queues = await store.queueList();
        assert.deepEqual(
          queues.map((q) => [q.name, q.counts.queued, q.paused]),
          [
            ['default', 1, false],
            ['mail', 1, false],
          ],
        );
      });
    });

    describe('events', () => {
      it('announces each state change of this store', async () => {
        const seen: string[] = [];
        const events: Array<keyof StoreEvents> = [
          'job:enqueued',
          'job:started',
          'job:succeeded',
          'job:retrying',
          'job:failed',
          'job:cancelled',
          'job:progress',
        ];
        for (const name of events)
          store.on(name, (e) => seen.push(`${name}:${'id' in e ? e.id : ''}`));
        const a = (await store.jobEnqueue(job({ maxAttempts: 2 }))).job.id;
        const [claimed] = await claim();
        await store.jobSetProgress({ ...leaseOf(claimed!), progress: '1' });
        await store.jobRecordOutcomes([
          {
            kind: 'failed',
            lease: leaseOf(claimed!),
            error: { name: 'E', message: 'm' },
            retryAt: clock.now(),
          },
        ]);
        const [second] = await claim();
        await store.jobRecordOutcomes([
          {
            kind: 'failed',
            lease: leaseOf(second!),
            error: { name: 'E', message: 'm' },
            retryAt: null,
          },
        ]);
        const b = (await store.jobEnqueue(job())).job.id;
        const [third] = await claim();
        await store.jobRecordOutcomes([succeed(leaseOf(third!))]);
        const c = (await store.jobEnqueue(job())).job.id;
        await store.jobCancel({ id: c });
        assert.deepEqual(seen, [
          `job:enqueued:${a}`,
          `job:started:${a}`,
          `job:progress:${a}`,
          `job:retrying:${a}`,
          `job:started:${a}`,
          `job:failed:${a}`,
          `job:enqueued:${b}`,
          `job:started:${b}`,
          `job:succeeded:${b}`,
          `job:enqueued:${c}`,
          `job:cancelled:${c}`,
        ]);
      });

      it('tells other connections that something changed', async () => {
        const other = await open();
        let changed = 0;
        other.on('store:changed', () => changed++);
        await store.jobEnqueue(job());
        const deadline = Date.now() + 10_000;
        while (changed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        assert.ok(changed > 0, 'the other connection heard of the enqueue');
      });

      it('names each job that ended to other connections: by its end event or in a hint', async () => {
        const other = await open();
        const heard = new Map<string, string>();
        for (const name of ['job:succeeded', 'job:failed', 'job:cancelled'] as const)
          other.on(name, (event) => heard.set(event.id, name));
        other.on('store:changed', (change) => {
          for (const id of change.ended ?? []) if (!heard.has(id)) heard.set(id, 'hint');
        });
        const ids = (await store.jobEnqueueMany([job(), job(), job()])).map((r) => r.job.id);
        const claimed = await claim(3);
        const byId = new Map(claimed.map((c) => [c.id, c]));
        await store.jobRecordOutcomes([
          succeed(leaseOf(byId.get(ids[0]!)!)),
          {
            kind: 'failed',
            lease: leaseOf(byId.get(ids[1]!)!),
            error: { name: 'Error', message: 'no' },
            retryAt: null,
          },
        ]);
        await store.jobCancel({ id: ids[2]! });
        const deadline = Date.now() + 10_000;
        while (heard.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        assert.deepEqual([...heard.keys()].sort(), [...ids].sort(), 'every end was named');
      });
    });

    const kit: ContractKit = {
      store: () => store,
      clock: () => clock,
      open,
      job,
      claim,
      leaseOf,
      succeed,
      leaseMs: LEASE_MS,
    };
    webhooksContract(kit);
    idempotencyContract(kit);
    tokensContract(kit);
    workersContract(kit);
    runFactsContract(kit);
    inputRangesContract(kit);
    outcomeCheckContract(kit);
    leaseLifeContract(kit);
    flowContract(kit);
    bulkContract(kit);
    jobEditContract(kit);
    metaContract(kit);

    it('refuses use after close, and tolerates a second close', async () => {
      const instance = await open();
      await instance.close();
      await instance.close();
      await assert.rejects(
        instance.jobGet({ id: '1' }),
        (e: unknown) => e instanceof OffloadError && e.code === 'ERR_STORE_CLOSED',
      );
    });
  });
}
