import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { OffloadError } from '../../src/core/errors.ts';
import { signWebhook, verifyWebhook } from '../../src/webhooks/signature.ts';

const secret = 'whsec_0123456789abcdef';
const body = JSON.stringify({ id: '7', task: 'report', state: 'succeeded', result: { rows: 3 } });
const now = Date.UTC(2030, 0, 1);
const t = Math.floor(now / 1000);
const refused = (pattern: RegExp) => (e: unknown) =>
  e instanceof OffloadError && e.code === 'ERR_WEBHOOK_SIGNATURE' && pattern.test(e.message);

describe('webhook signatures', () => {
  it('signs Stripe style: t=<seconds>,v1=<HMAC-SHA256 of "t.body">', () => {
    const header = signWebhook({ secret, body, timestamp: t });
    const mac = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    assert.equal(header, `t=${t},v1=${mac}`);
  });

  it('verifies a signed body, as a string or bytes, and returns it parsed', () => {
    const signature = signWebhook({ secret, body, timestamp: t });
    assert.deepEqual(verifyWebhook({ secret, body, signature, now }), JSON.parse(body));
    assert.deepEqual(
      verifyWebhook({ secret, body: Buffer.from(body), signature, now: now + 299_000 }),
      JSON.parse(body),
    );
  });

  it('accepts any matching v1 of several (a secret being rotated)', () => {
    const old = signWebhook({ secret: 'whsec_old_secret_000000', body, timestamp: t });
    const current = signWebhook({ secret, body, timestamp: t });
    const both = `${old},v1=${current.split('v1=')[1]}`;
    assert.ok(verifyWebhook({ secret, body, signature: both, now }));
  });

  it('refuses a tampered body, a wrong secret and an old or future timestamp', () => {
    const signature = signWebhook({ secret, body, timestamp: t });
    assert.throws(
      () => verifyWebhook({ secret, body: body.replace('3', '4'), signature, now }),
      refused(/body was changed, or the secret differs/),
    );
    assert.throws(
      () => verifyWebhook({ secret: 'whsec_someone_else_000', body, signature, now }),
      refused(/no v1 signature matches/),
    );
    assert.throws(
      () => verifyWebhook({ secret, body, signature, now: now + 301_000 }),
      refused(/301 s away from now, more than the tolerance of 300 s/),
    );
    assert.throws(
      () => verifyWebhook({ secret, body, signature, now: now - 400_000 }),
      refused(/tolerance/),
    );
    assert.ok(
      verifyWebhook({ secret, body, signature, now: now + 3_600_000, toleranceSeconds: 3600 }),
    );
    const replayedWithNewTime = signature.replace(`t=${t}`, `t=${t + 1000}`);
    assert.throws(
      () => verifyWebhook({ secret, body, signature: replayedWithNewTime, now: now + 1_000_000 }),
      refused(/no v1 signature matches/),
    );
  });

  it('refuses a missing or malformed header', () => {
    assert.throws(
      () => verifyWebhook({ secret, body, signature: undefined, now }),
      refused(/header is missing/),
    );
    assert.throws(
      () => verifyWebhook({ secret, body, signature: '', now }),
      refused(/header is missing/),
    );
    for (const bad of [
      'garbage',
      `t=${t}`,
      'v1=abc',
      `t=abc,v1=${'0'.repeat(64)}`,
      `t=${t},v1=xyz`,
    ]) {
      assert.throws(
        () => verifyWebhook({ secret, body, signature: bad, now }),
        refused(/malformed/),
        bad,
      );
    }
  });
});
