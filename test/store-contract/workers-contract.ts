import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkerRecord } from '../../src/store/contract.ts';
import type { ContractKit } from './kit.ts';

/** The worker registry behind the dashboard's workers view. */
export function workersContract(t: ContractKit): void {
  describe('worker registry', () => {
    const worker = (overrides: Partial<WorkerRecord> = {}): WorkerRecord => ({
      id: 'host-a:101:abc',
      host: 'host-a',
      pid: 101,
      modes: ['inline', 'thread'],
      queues: ['default', 'reports'],
      running: 2,
      startedAt: t.clock().now(),
      lastHeartbeat: t.clock().now(),
      ...overrides,
    });

    it('keeps the latest heartbeat of each worker, seen from every connection', async () => {
      const store = t.store();
      const now = t.clock().now();
      await store.workerHeartbeat(worker());
      await store.workerHeartbeat(worker({ running: 5, lastHeartbeat: now + 1000 }));
      await store.workerHeartbeat(
        worker({
          id: 'host-b:7:def',
          host: 'host-b',
          pid: 7,
          modes: ['process'],
          queues: ['default'],
          running: 0,
        }),
      );
      const seen = await (await t.open()).workerList({ since: now - 1 });
      assert.deepEqual(seen, [
        worker({ running: 5, lastHeartbeat: now + 1000 }),
        worker({
          id: 'host-b:7:def',
          host: 'host-b',
          pid: 7,
          modes: ['process'],
          queues: ['default'],
          running: 0,
        }),
      ]);
      assert.deepEqual(
        (await store.workerList({ since: now + 1 })).map((w) => w.id),
        ['host-a:101:abc'],
      );
    });

    it('forgets a stopped worker, and workers silent for over an hour', async () => {
      const store = t.store();
      const now = t.clock().now();
      await store.workerHeartbeat(worker({ id: 'gone:1:a', lastHeartbeat: now - 2 * 3_600_000 }));
      await store.workerHeartbeat(worker({ id: 'stopping:2:b' }));
      await store.workerRemove({ id: 'stopping:2:b' });
      await store.workerHeartbeat(worker({ id: 'alive:3:c' }));
      const ids = (await store.workerList({ since: 0 })).map((w) => w.id);
      assert.ok(ids.includes('alive:3:c'));
      assert.ok(!ids.includes('gone:1:a'), 'an hour-silent worker is forgotten');
      assert.ok(!ids.includes('stopping:2:b'), 'a removed worker is gone');
    });
  });
}
