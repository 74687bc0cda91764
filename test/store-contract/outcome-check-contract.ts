import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import type { JobOutcome, LeaseRef } from '../../src/store/contract.ts';
import type { ContractKit } from './kit.ts';

/** `jobRecordOutcomes` refuses a call that holds an invalid outcome, whole, before it writes anything. */
export function outcomeCheckContract(t: ContractKit): void {
  describe('invalid outcomes', () => {
    const error = { name: 'Error', message: 'boom' };
    const invalid: Array<[string, (lease: LeaseRef) => unknown, string]> = [
      ['retryAt NaN', (lease) => ({ kind: 'failed', lease, error, retryAt: NaN }), 'retryAt'],
      [
        'retryAt Infinity',
        (lease) => ({ kind: 'failed', lease, error, retryAt: Infinity }),
        'retryAt',
      ],
      [
        'retryAt a string',
        (lease) => ({ kind: 'failed', lease, error, retryAt: '1000' }),
        'retryAt',
      ],
      ['runAt a fraction', (lease) => ({ kind: 'snoozed', lease, runAt: 1.5 }), 'runAt'],
      [
        'runAt past the safe integers',
        (lease) => ({ kind: 'snoozed', lease, runAt: 2 ** 60 }),
        'runAt',
      ],
      ['runAt missing', (lease) => ({ kind: 'snoozed', lease }), 'runAt'],
      ['result a number', (lease) => ({ kind: 'succeeded', lease, result: 42 }), 'result'],
      ['result missing', (lease) => ({ kind: 'succeeded', lease }), 'result'],
      ['an unknown kind', (lease) => ({ kind: 'exploded', lease }), 'kind'],
      ['no error', (lease) => ({ kind: 'failed', lease, retryAt: null }), 'error'],
      [
        'an attempt that is no whole number',
        (lease) => ({ kind: 'released', lease: { ...lease, attempt: 1.5 } }),
        'lease.attempt',
      ],
      [
        'an output tail that is no string',
        (lease) => ({ kind: 'released', lease, outputTail: 7 }),
        'outputTail',
      ],
    ];

    it('refuses the call with ERR_INVALID_OPTION naming the outcome and its field, and records none of its outcomes', async () => {
      for (const [label, make, field] of invalid) {
        await t.store().jobEnqueueMany([t.job(), t.job(), t.job()]);
        const [a, b, c] = await t.claim(3);
        const outcomes = [
          t.succeed(t.leaseOf(a!)),
          make(t.leaseOf(b!)) as JobOutcome,
          t.succeed(t.leaseOf(c!)),
        ];
        await assert.rejects(t.store().jobRecordOutcomes(outcomes), (thrown: unknown) => {
          assert.ok(thrown instanceof OffloadError, `${label}: ${String(thrown)}`);
          assert.equal(thrown.code, ErrorCodes.INVALID_OPTION, label);
          assert.equal(thrown.details['option'], `outcomes[1].${field}`, label);
          assert.match(thrown.message, new RegExp(`outcome 1 \\(job ${b!.id}\\)`), label);
          return true;
        });
        const states = await Promise.all(
          [a, b, c].map(async (job) => (await t.store().jobGet({ id: job!.id }))?.state),
        );
        assert.deepEqual(states, ['running', 'running', 'running'], `${label}: nothing written`);
        assert.deepEqual(
          await t
            .store()
            .jobRecordOutcomes([
              outcomes[0]!,
              outcomes[2]!,
              { kind: 'failed', lease: t.leaseOf(b!), error, retryAt: null },
            ]),
          [true, true, true],
          label,
        );
      }
    });

    it('refuses a call alone: calls beside it are recorded', async () => {
      await t.store().jobEnqueueMany([t.job(), t.job(), t.job()]);
      const [a, b, c] = await t.claim(3);
      const calls = [
        t.store().jobRecordOutcomes([t.succeed(t.leaseOf(a!))]),
        t
          .store()
          .jobRecordOutcomes([{ kind: 'failed', lease: t.leaseOf(b!), error, retryAt: NaN }]),
        t.store().jobRecordOutcomes([t.succeed(t.leaseOf(c!))]),
      ];
      const settled = await Promise.allSettled(calls);
      assert.deepEqual(
        settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as OffloadError).code)),
        [[true], ErrorCodes.INVALID_OPTION, [true]],
      );
      const states = await Promise.all(
        [a, b, c].map(async (job) => (await t.store().jobGet({ id: job!.id }))?.state),
      );
      assert.deepEqual(states, ['succeeded', 'running', 'succeeded']);
    });
  });
}
