import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventAggregator, percentile, type StreamEvent } from '../../src/dashboard/stats.ts';

const event = (type: string, id: string, at: number): StreamEvent => ({
  type,
  id,
  at,
  queue: 'q',
  task: 't',
  state: '',
});

test('counts rates per second and run times from started/succeeded pairs', () => {
  const stats = new EventAggregator(10);
  const base = 1_700_000_000_000;
  for (let i = 0; i < 100; i++) {
    stats.add(event('job:enqueued', String(i), base));
    stats.add(event('job:started', String(i), base + 100));
    stats.add(event(i % 10 === 0 ? 'job:failed' : 'job:succeeded', String(i), base + 100 + i));
  }
  const snapshot = stats.snapshot(base + 500);
  assert.equal(snapshot.seconds.length, 10);
  assert.equal(snapshot.enqueued.at(-1), 100);
  assert.equal(snapshot.succeeded.at(-1), 90);
  assert.equal(snapshot.failed.at(-1), 10);
  assert.equal(snapshot.latency.count, 100);
  assert.equal(snapshot.latency.p50, 49);
  assert.equal(snapshot.latency.p99, 98);
  assert.equal(
    snapshot.histogram.counts.reduce((a, b) => a + b, 0),
    100,
  );
  assert.deepEqual(snapshot.totals, { events: 300, enqueued: 100, succeeded: 90, failed: 10 });
});

test('old seconds fall out of the window; a retry forgets the open run', () => {
  const stats = new EventAggregator(5);
  const base = 1_700_000_000_000;
  stats.add(event('job:started', 'a', base));
  stats.add(event('job:retrying', 'a', base + 10));
  stats.add(event('job:succeeded', 'a', base + 20));
  assert.equal(stats.snapshot(base).latency.count, 0);
  stats.add(event('job:enqueued', 'b', base));
  assert.equal(
    stats.snapshot(base + 10_000).enqueued.reduce((a, b) => a + b, 0),
    0,
  );
});

test('percentile is nearest-rank and NaN for nothing', () => {
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 1), 4);
});
