import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import type { ClaimedJob } from '../../src/core/job.ts';
import type { EnqueueParams, Store } from '../../src/store/contract.ts';
import { leaseOf } from '../../src/worker/job-run.ts';
import { Heartbeat } from '../../src/worker/services/heartbeat.ts';
import { LeaseRenewer } from '../../src/worker/services/lease-renewer.ts';
import { Pruner } from '../../src/worker/services/pruner.ts';
import { Rescuer } from '../../src/worker/services/rescuer.ts';
import {
  IntervalService,
  type Service,
  type ServiceDeps,
} from '../../src/worker/services/service.ts';
import { waitFor } from '../helpers/temp.ts';
import { sqliteFactory, type StoreFactory } from '../store-contract/factory.ts';

/** A round every few milliseconds, so a stopped service would have had many chances to act. */
const TICK_MS = 5;
const WORKER = 'host:1:services';

/**
 * Resolves once a timer of `ms` has fired `rounds` times: the time in which a service of that
 * period, had it not stopped, would have run as often. A condition to wait on, not a sleep.
 */
async function afterRounds(ms: number, rounds = 10): Promise<void> {
  let fired = 0;
  const control = new IntervalService(ms, () => void fired++);
  control.start();
  try {
    await waitFor(() => fired >= rounds, { what: `${rounds} rounds of a ${ms} ms timer` });
  } finally {
    control.stop();
  }
}

describe('worker services: one start/stop contract', () => {
  let factory: StoreFactory;
  let store: Store;
  let clock: ManualClock;
  let failures: string[];
  let deps: ServiceDeps;

  beforeEach(async () => {
    factory = await sqliteFactory('services');
    clock = new ManualClock();
    store = await factory.open({ clock });
    failures = [];
    deps = {
      store,
      log: pino({ level: 'silent' }),
      fail: (_error, message) => void failures.push(message),
    };
  });

  afterEach(async () => {
    await store.close();
    await factory.destroy();
    assert.deepEqual(failures, [], 'no service reported a failure');
  });

  const job = (overrides: Partial<EnqueueParams> = {}): EnqueueParams => ({
    task: 'echo',
    queue: 'default',
    payload: '{}',
    priority: 0,
    runAt: clock.now(),
    maxAttempts: 3,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
    ...overrides,
  });

  /** Enqueues one job and claims it for WORKER. */
  const claimOne = async (leaseMs = 10_000): Promise<ClaimedJob> => {
    await store.jobEnqueue(job());
    const [claimed] = await store.jobClaim({
      workerId: WORKER,
      queues: [{ name: 'default', limit: 1 }],
      tasks: ['echo'],
      leaseMs,
    });
    assert.ok(claimed, 'a job was claimed');
    return claimed;
  };

  const heartbeat = (intervalMs = TICK_MS) =>
    new Heartbeat({
      ...deps,
      workerId: WORKER,
      intervalMs,
      modes: ['inline'],
      queues: ['default'],
      running: () => 0,
      startedAt: () => 0,
    });
  const pruner = (intervalMs = TICK_MS) => new Pruner({ ...deps, maxAge: 0, intervalMs });
  const rescuer = (intervalMs = TICK_MS, onRescued = () => {}) =>
    new Rescuer({ ...deps, intervalMs, onRescued });
  const renewer = (leaseMs: number, waiting: () => ClaimedJob[] = () => []) =>
    new LeaseRenewer({
      ...deps,
      workerId: WORKER,
      leaseMs,
      active: new Map(),
      waiting,
      dropWaiting: () => false,
    });

  const services: Array<[string, () => Service]> = [
    ['heartbeat', () => heartbeat()],
    ['pruner', () => pruner()],
    ['rescuer', () => rescuer()],
    ['lease renewer', () => renewer(3 * TICK_MS)],
  ];

  for (const [name, make] of services) {
    it(`${name}: stop() before start() and stop() twice do not throw`, async () => {
      const unstarted = make();
      assert.doesNotThrow(() => unstarted.stop());
      assert.doesNotThrow(() => unstarted.stop());
      const started = make();
      started.start();
      assert.doesNotThrow(() => started.stop());
      assert.doesNotThrow(() => started.stop());
      await afterRounds(TICK_MS, 3);
    });
  }

  it('heartbeat: checks in every interval, and not once after stop()', async () => {
    const service = heartbeat();
    const lastHeartbeat = async () =>
      (await store.workerList({ since: 0 })).find((worker) => worker.id === WORKER)?.lastHeartbeat;
    service.start();
    clock.advance(1000);
    await waitFor(async () => (await lastHeartbeat()) === clock.now(), { what: 'a heartbeat' });
    service.stop();
    const stoppedAt = clock.now();
    clock.advance(1000);
    await afterRounds(TICK_MS);
    assert.equal(await lastHeartbeat(), stoppedAt, 'no heartbeat was written after stop()');
    await service.beat();
    assert.equal(await lastHeartbeat(), clock.now(), 'a heartbeat asked for writes one');
  });

  /** A job that finished a moment ago, with a newer job after it (the store keeps its newest). */
  const finishedJob = async (): Promise<string> => {
    const claimed = await claimOne();
    await store.jobRecordOutcomes([
      { kind: 'succeeded', lease: leaseOf(claimed, WORKER), result: '1' },
    ]);
    await store.jobEnqueue(job());
    clock.advance(1000);
    return claimed.id;
  };

  it('pruner: deletes finished jobs every interval, and none after stop()', async () => {
    const first = await finishedJob();
    const service = pruner();
    service.start();
    await waitFor(async () => (await store.jobGet({ id: first })) === undefined, {
      what: 'the finished job deleted',
    });
    service.stop();
    const second = await finishedJob();
    await afterRounds(TICK_MS);
    assert.ok(await store.jobGet({ id: second }), 'no job was deleted after stop()');
    await service.prune();
    assert.equal(await store.jobGet({ id: second }), undefined, 'a prune asked for deletes it');
  });

  it('rescuer: requeues expired jobs every interval and wakes, and does neither after stop()', async () => {
    let wakes = 0;
    const service = rescuer(TICK_MS, () => void wakes++);
    const first = await claimOne(1000);
    clock.advance(2000);
    service.start();
    await waitFor(async () => (await store.jobGet({ id: first.id }))?.state === 'queued', {
      what: 'the expired job requeued',
    });
    service.stop();
    assert.equal(wakes, 1);
    const second = await claimOne(1000);
    clock.advance(2000);
    await afterRounds(TICK_MS);
    const held = await store.jobGet({ id: second.id });
    assert.equal(held?.leaseOwner, WORKER, 'no job was rescued after stop()');
    assert.equal(wakes, 1, 'no wake after stop()');
    await service.rescue();
    assert.equal(
      (await store.jobGet({ id: second.id }))?.state,
      'queued',
      'a rescue asked for requeues it',
    );
    assert.equal(wakes, 2);
  });

  it('lease renewer: extends leases every third of the lease, and none after stop()', async () => {
    const leaseMs = 3 * TICK_MS;
    const claimed = await claimOne(leaseMs);
    const expiry = async () => (await store.jobGet({ id: claimed.id }))?.leaseExpiresAt;
    const service = renewer(leaseMs, () => [claimed]);
    service.start();
    // Less than the lease, so the lease is live when the renewer reaches it.
    clock.advance(TICK_MS);
    await waitFor(async () => (await expiry()) === clock.now() + leaseMs, { what: 'a renewal' });
    service.stop();
    const renewed = clock.now() + leaseMs;
    clock.advance(TICK_MS);
    await afterRounds(TICK_MS);
    assert.equal(await expiry(), renewed, 'no lease was renewed after stop()');
    await service.renew();
    assert.equal(await expiry(), clock.now() + leaseMs, 'a renewal asked for extends it');
  });
});
