import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import type { EnqueueParams } from '../../src/store/contract.ts';
import { Rescuer } from '../../src/worker/services/rescuer.ts';
import { testStores } from '../helpers/stores.ts';

const WORKER = 'host:1:recovery-logs';

for (const { name, make } of testStores) {
  describe(`lease recovery's lines (${name})`, () => {
    it('name each recovered job with its fields: requeued, or failed with its attempts spent', async () => {
      const factory = await make('recovery-logs');
      const clock = new ManualClock();
      const store = await factory.open({ clock });
      const lines: Array<Record<string, unknown>> = [];
      const failures: string[] = [];
      try {
        const params = (maxAttempts: number): EnqueueParams => ({
          task: 'echo',
          queue: 'mail',
          payload: '{}',
          priority: 0,
          runAt: clock.now(),
          maxAttempts,
          timeoutMs: 0,
          uniqueKey: null,
          idempotencyKey: null,
          callbackUrl: null,
        });
        const again = await store.jobEnqueue(params(3));
        const spent = await store.jobEnqueue(params(1));
        const claimed = await store.jobClaim({
          workerId: WORKER,
          queues: [{ name: 'mail', limit: 2 }],
          tasks: ['echo'],
          leaseMs: 1000,
        });
        assert.equal(claimed.length, 2);
        clock.advance(2000);
        const rescuer = new Rescuer({
          store,
          log: pino(
            { level: 'info' },
            { write: (line: string) => void lines.push(JSON.parse(line)) },
          ),
          fail: (_error, message) => void failures.push(message),
          intervalMs: 60_000,
          onRescued: () => {},
        });
        await rescuer.rescue();
        assert.deepEqual(failures, []);
        const lineOf = (id: string) => lines.find((line) => line.job === id);
        const requeued = lineOf(again.job.id)!;
        const failed = lineOf(spent.job.id)!;
        for (const line of [requeued, failed]) {
          assert.deepEqual(
            [line.task, line.queue, line.attempt, line.level],
            ['echo', 'mail', 1, 40],
          );
          assert.ok(!('traceId' in line));
        }
        assert.match(
          String(requeued.msg),
          new RegExp(`^recovered job ${again.job.id} echo, .*: requeued$`),
        );
        assert.match(String(failed.msg), /: failed: its attempts are spent$/);
      } finally {
        await store.close();
        await factory.destroy();
      }
    });
  });
}
