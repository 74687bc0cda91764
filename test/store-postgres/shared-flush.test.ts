import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedFlush } from '../../src/store/postgres/shared-flush.ts';

/** A flush whose runs end when the test says so, recording when each started and ended. */
function controlledFlush() {
  const runs: Array<{ finish: (error?: Error) => void; ended: boolean }> = [];
  const flush = new SharedFlush(
    () =>
      new Promise<void>((resolve, reject) => {
        const run = {
          ended: false,
          finish: (error?: Error) => {
            run.ended = true;
            if (error) reject(error);
            else resolve();
          },
        };
        runs.push(run);
      }),
  );
  return { flush, runs };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedFlush', () => {
  it('starts a flush for a request when none runs', async () => {
    const { flush, runs } = controlledFlush();
    const first = flush.request();
    assert.equal(runs.length, 1);
    runs[0]!.finish();
    await first;
    const second = flush.request();
    assert.equal(runs.length, 2);
    runs[1]!.finish();
    await second;
  });

  it('serves every request made during a flush with one next flush, started after the running one ended', async () => {
    const { flush, runs } = controlledFlush();
    const first = flush.request();
    let settled = 0;
    const waiting = Array.from({ length: 5 }, () => flush.request().then(() => settled++));
    await turn();
    assert.equal(runs.length, 1, 'a request during a flush must not start a second one at once');
    runs[0]!.finish();
    await first;
    await turn();
    assert.equal(runs.length, 2);
    assert.equal(settled, 0, 'requests made during the first flush must wait for the next');
    runs[1]!.finish();
    await Promise.all(waiting);
    assert.equal(settled, 5);
    assert.equal(runs.length, 2);
  });

  it('rejects the requests a failed flush served, and starts afresh for the next request', async () => {
    const { flush, runs } = controlledFlush();
    const first = flush.request();
    const during = flush.request();
    runs[0]!.finish(new Error('connection lost'));
    await assert.rejects(first, /connection lost/);
    await turn();
    assert.equal(runs.length, 2, 'the next flush still runs after a failed one');
    runs[1]!.finish(new Error('still down'));
    await assert.rejects(during, /still down/);
    const later = flush.request();
    assert.equal(runs.length, 3);
    runs[2]!.finish();
    await later;
  });
});
