import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, DEFAULT_BACKOFF, MAX_BACKOFF_MS } from '../src/core/backoff.ts';
import { ErrorCodes, OffloadError } from '../src/core/errors.ts';
import { defineTask } from '../src/task/define-task-node.ts';

const never = () => assert.fail('random() must not be called without jitter');

describe("backoffDelay's curve and jitter bounds", () => {
  it('gives a fixed number as it is, whatever the attempt', () => {
    for (const attempt of [1, 2, 10, 1000]) assert.equal(backoffDelay(250, attempt, never), 250);
    assert.equal(backoffDelay(0, 3, never), 0);
  });

  it('grows delay * factor^(attempt-1) and holds at maxDelay', () => {
    const curve = { delay: 100, factor: 3, maxDelay: 5000, jitter: false };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(curve, attempt, never)),
      [100, 300, 900, 2700, 5000, 5000],
    );
    assert.equal(
      backoffDelay({ delay: 40, factor: 1, jitter: false }, 9, never),
      40,
      'factor 1 keeps the delay fixed',
    );
  });

  it('fills missing fields from the default: 1 s doubling, capped at one hour', () => {
    assert.deepEqual(
      [1, 2, 3].map((attempt) => backoffDelay({ jitter: false }, attempt, never)),
      [1000, 2000, 4000],
    );
    assert.equal(backoffDelay({ jitter: false }, 40, never), DEFAULT_BACKOFF.maxDelay);
  });

  it('draws a jittered wait from [base/2, base], at both ends of random()', () => {
    const curve = { delay: 1000, factor: 2, maxDelay: 60_000 };
    for (const attempt of [1, 2, 3, 7]) {
      const base = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      assert.equal(
        backoffDelay(curve, attempt, () => 0),
        base / 2,
      );
      assert.equal(
        backoffDelay(curve, attempt, () => 0.5),
        (base * 3) / 4,
      );
      assert.ok(backoffDelay(curve, attempt, () => 0.999_999) <= base);
      assert.equal(
        backoffDelay(curve, attempt, () => 1),
        base,
      );
    }
  });

  it('stays finite and bounded however many attempts ran (no 0 × Infinity, no overflow)', () => {
    assert.equal(backoffDelay({ delay: 0, factor: 2, jitter: false }, 5000, never), 0);
    assert.equal(
      backoffDelay(
        { delay: 1000, factor: 10, maxDelay: Number.MAX_SAFE_INTEGER, jitter: false },
        5000,
        never,
      ),
      MAX_BACKOFF_MS,
    );
    assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, 1, never), MAX_BACKOFF_MS);
    assert.equal(
      backoffDelay(() => 1e300, 1, never),
      MAX_BACKOFF_MS,
    );
  });

  it("passes a function's whole, finite, non-negative value through, floored", () => {
    assert.equal(
      backoffDelay((attempt) => attempt * 100, 4, never),
      400,
    );
    assert.equal(
      backoffDelay(() => 12.9, 1, never),
      12,
    );
    assert.equal(
      backoffDelay(() => 0, 1, never),
      0,
    );
  });

  it("refuses a function's value that is no delay, with ERR_INVALID_BACKOFF saying what it was", () => {
    const cases: Array<[string, (attempt: number) => unknown, RegExp]> = [
      [
        'throws',
        () => {
          throw new Error('no curve for you');
        },
        /threw.*no curve for you/,
      ],
      ['a Promise', async () => 100, /returned a Promise/],
      ['a thenable', () => ({ then: () => undefined }), /returned a Promise/],
      ['NaN', () => NaN, /returned NaN/],
      ['negative', () => -1, /returned -1/],
      ['Infinity', () => Infinity, /returned Infinity/],
      ['-Infinity', () => -Infinity, /returned -Infinity/],
      ['a string', () => '100', /returned string "100"/],
      ['undefined', () => undefined, /returned undefined/],
    ];
    for (const [label, backoff, message] of cases) {
      assert.throws(
        () => backoffDelay(backoff as (attempt: number) => number, 2, never),
        (error: unknown) =>
          error instanceof OffloadError &&
          error.code === ErrorCodes.INVALID_BACKOFF &&
          message.test(error.message),
        label,
      );
    }
  });
});

describe('defineTask: backoff', () => {
  const define = (backoff: unknown) =>
    defineTask({ name: 'b', run: () => 1, backoff: backoff as never });
  const refused = (backoff: unknown, option: string, message: RegExp) =>
    assert.throws(
      () => define(backoff),
      (error: unknown) =>
        error instanceof OffloadError &&
        error.code === ErrorCodes.INVALID_OPTION &&
        error.details['option'] === option &&
        message.test(error.message),
      `${String(backoff)} ${JSON.stringify(backoff)}`,
    );

  it('takes whole milliseconds, a function, or the curve object', () => {
    for (const backoff of [
      0,
      500,
      () => 1,
      { delay: 10 },
      { delay: 0, factor: 1.5, maxDelay: 60_000, jitter: false },
      {},
    ])
      define(backoff);
  });

  it('refuses a number that is not whole milliseconds, 0 or more, naming the option', () => {
    refused(-1, 'backoff', /`backoff` must be a whole number of milliseconds, 0 or more/);
    refused(NaN, 'backoff', /`backoff` must be a whole number of milliseconds, 0 or more; got NaN/);
    refused(Infinity, 'backoff', /got Infinity/);
    refused(1.5, 'backoff', /got 1\.5/);
  });

  it('refuses curve fields out of range, naming the field', () => {
    refused(
      { delay: NaN },
      'backoff.delay',
      /`backoff\.delay` must be a whole number of milliseconds, 0 or more; got NaN/,
    );
    refused({ delay: -5 }, 'backoff.delay', /0 or more/);
    refused({ maxDelay: Infinity }, 'backoff.maxDelay', /got Infinity/);
    refused(
      { factor: 0.5 },
      'backoff.factor',
      /`backoff\.factor` must be a finite number, 1 or more/,
    );
    refused({ factor: Infinity }, 'backoff.factor', /got Infinity/);
    refused({ factor: NaN }, 'backoff.factor', /got NaN/);
    refused({ jitter: 'yes' }, 'backoff.jitter', /must be true or false/);
    refused({ dealy: 100 }, 'backoff.dealy', /unknown field `dealy`, did you mean `delay`\?/);
  });

  it('refuses anything else, saying what it takes', () => {
    refused(
      '100',
      'backoff',
      /must be milliseconds, a function of the attempt, or \{ delay, factor, maxDelay, jitter \}/,
    );
    refused(null, 'backoff', /must be milliseconds/);
    refused([100], 'backoff', /must be milliseconds/);
  });
});
