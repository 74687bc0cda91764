import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createToken, revokeToken } from '../../src/auth/tokens.ts';
import { OffloadError } from '../../src/core/errors.ts';
import { createQueue, type EnqueueOptions } from '../../src/queue/queue.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { ContractKit } from './kit.ts';

const DAY = 86_400_000;
const MAX_TIMER = 2 ** 31 - 1;
const MAX_DELAY = 3_155_760_000_000;
const MAX_RUN_AT = Date.parse('9999-12-31T23:59:59.999Z');

const echo = defineTask({ name: 'echo', run: async (payload: unknown) => payload });

function invalidOption(option: string, words: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof OffloadError, `expected an OffloadError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_INVALID_OPTION', error.message);
    assert.match(error.message, new RegExp(`\`${option}\``));
    assert.match(error.message, words);
    return true;
  };
}

/**
 * What enqueue accepts is one range on every store: the edges are stored as given, one step
 * beyond is refused before the store sees it (never a DatabaseError from one store and a stored
 * job on the other), and long delays are run-ats, not timers.
 */
export function inputRangesContract(t: ContractKit): void {
  describe('input ranges', () => {
    const queue = () => createQueue({ store: t.store(), tasks: [echo] });

    it('schedules a job 30 days ahead, and one at the 100-year limit, with their run-ats', async () => {
      const now = t.clock().now();
      const month = await queue().enqueue(echo, 1, { delay: 30 * DAY });
      assert.equal(month.state, 'scheduled');
      assert.equal(month.runAt, now + 30 * DAY);
      const read = await t.store().jobGet({ id: month.id });
      assert.deepEqual([read?.state, read?.runAt], ['scheduled', now + 30 * DAY]);
      const century = await queue().enqueue(echo, 2, { delay: MAX_DELAY });
      assert.equal((await t.store().jobGet({ id: century.id }))?.runAt, now + MAX_DELAY);
      const last = await queue().enqueue(echo, 3, { runAt: new Date(MAX_RUN_AT) });
      assert.equal((await t.store().jobGet({ id: last.id }))?.runAt, MAX_RUN_AT);
      assert.deepEqual(await t.claim(), [], 'none of them is due');
      t.clock().advance(30 * DAY);
      assert.deepEqual(
        (await t.claim()).map((job) => job.id),
        [month.id],
        'the month-ahead job is due after 30 days',
      );
    });

    it('stores the edges of priority, attempts and timeout as given', async () => {
      const edges: EnqueueOptions[] = [
        { priority: 1_000_000, attempts: 1_000, timeout: MAX_TIMER },
        { priority: -1_000_000, attempts: 1, timeout: 0 },
      ];
      for (const options of edges) {
        const job = await queue().enqueue(echo, null, options);
        const read = await t.store().jobGet({ id: job.id });
        assert.deepEqual(
          [read?.priority, read?.maxAttempts, read?.timeoutMs],
          [options.priority, options.attempts, options.timeout],
        );
      }
    });

    it('refuses a number one beyond its range with ERR_INVALID_OPTION naming it, writing nothing', async () => {
      const beyond: Array<[EnqueueOptions, string, RegExp]> = [
        [{ priority: 1_000_001 }, 'priority', /from -1000000 to 1000000/],
        [{ priority: -1_000_001 }, 'priority', /from -1000000 to 1000000/],
        [{ priority: 2 ** 31 }, 'priority', /from -1000000 to 1000000/],
        [{ attempts: 1_001 }, 'attempts', /from 1 to 1000/],
        [{ attempts: 2 ** 31 }, 'attempts', /from 1 to 1000/],
        [{ timeout: MAX_TIMER + 1 }, 'timeout', /at most 2147483647 ms \(about 24\.8 days\)/],
        [{ delay: MAX_DELAY + 1 }, 'delay', /at most 3155760000000 ms \(100 years\)/],
        [{ runAt: MAX_RUN_AT + 1 }, 'runAt', /9999-12-31/],
        [{ runAt: new Date(MAX_RUN_AT + 1) }, 'runAt', /9999-12-31/],
        [{ runAt: -1 }, 'runAt', /from 0 \(1970-01-01\)/],
      ];
      for (const [options, option, words] of beyond) {
        await assert.rejects(
          queue().enqueue(echo, null, options),
          invalidOption(option, words),
          JSON.stringify(options),
        );
      }
      await assert.rejects(
        queue().enqueueMany([
          { task: echo, payload: 1 },
          { task: echo, payload: 2, options: { timeout: 2 ** 31 } },
        ]),
        invalidOption('timeout', /item 1.*at most 2147483647 ms/),
      );
      assert.equal((await t.store().jobList({})).jobs.length, 0, 'nothing was written');
    });

    it('refuses U+0000 in a unique key, an idempotency key, a callback URL and list filters, writing nothing', async () => {
      const nul: Array<[EnqueueOptions, string]> = [
        [{ uniqueKey: 'user\u00007' }, 'uniqueKey'],
        [{ idempotencyKey: 'order\u00001' }, 'idempotencyKey'],
        [{ callbackUrl: 'https://example.com/hooks/a\u0000b' }, 'callbackUrl'],
      ];
      for (const [options, option] of nul) {
        await assert.rejects(
          queue().enqueue(echo, null, options),
          invalidOption(option, /must not contain the NUL character U\+0000/),
        );
      }
      await assert.rejects(
        queue().listJobs({ task: 'echo\u0000' }),
        invalidOption('task', /letters, digits/),
      );
      await assert.rejects(
        queue().countJobs({ queue: 'default\u0000' }),
        invalidOption('queue', /letters, digits/),
      );
      assert.equal((await t.store().jobList({})).jobs.length, 0, 'nothing was written');
    });

    it('refuses U+0000 in a token name, and finds no token by an id holding it', async () => {
      await assert.rejects(
        createToken(t.store(), { name: 'ci\u0000bot', scopes: ['admin'] }),
        (error: unknown) => {
          assert.ok(
            error instanceof OffloadError && error.code === 'ERR_INVALID_OPTION',
            String(error),
          );
          assert.match(error.message, /token name .* without the NUL character U\+0000/);
          return true;
        },
      );
      assert.deepEqual(await t.store().tokenList(), []);
      assert.equal(await revokeToken(t.store(), 'abc\u0000'), false);
    });

    it('keeps U+0000 inside JSON payloads, results and progress, as JSON escapes', async () => {
      const job = await queue().enqueue(echo, { text: 'a\u0000b', ['k\u0000']: 1 });
      assert.deepEqual((await t.store().jobGet({ id: job.id }))?.payload, {
        text: 'a\u0000b',
        ['k\u0000']: 1,
      });
      const [claimed] = await t.claim();
      await t
        .store()
        .jobSetProgress({ ...t.leaseOf(claimed!), progress: JSON.stringify({ step: 'x\u0000' }) });
      assert.deepEqual((await t.store().jobGet({ id: job.id }))?.progress, { step: 'x\u0000' });
      await t
        .store()
        .jobRecordOutcomes([t.succeed(t.leaseOf(claimed!), JSON.stringify(['\u0000']))]);
      assert.deepEqual((await t.store().jobGet({ id: job.id }))?.result, ['\u0000']);
    });
  });
}
