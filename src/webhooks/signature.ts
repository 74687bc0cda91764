import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, OffloadError } from '../core/errors.ts';

/** The body offload POSTs to a job's callback URL. Times are epoch milliseconds. */
export interface WebhookPayload<Result = unknown> {
  id: string;
  task: string;
  queue: string;
  state: 'succeeded' | 'failed' | 'cancelled';
  result: Result | null;
  /** The last error (without its stack), for failed jobs and cancelled jobs that had failed before. */
  error: { name: string; message: string; code?: string; attempt: number } | null;
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** Header that carries the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'offload-signature';
/** Header that carries the delivery job's id: the same on every retry of one delivery, so receivers can drop repeats. */
export const WEBHOOK_ID_HEADER = 'offload-webhook-id';

/**
 * The `offload-signature` header value for `body`, Stripe style: `t=<unix seconds>,v1=<hex HMAC-SHA256
 * of "<t>.<body>" keyed with the secret>`. `timestamp` is in unix seconds; default now.
 */
export function signWebhook(params: {
  secret: string;
  body: string | Uint8Array;
  timestamp?: number;
}): string {
  const timestamp = params.timestamp ?? Math.floor(Date.now() / 1000);
  return `t=${timestamp},v1=${mac(params.secret, timestamp, params.body)}`;
}

/**
 * Checks a webhook from offload and returns its parsed body. Pass the raw body exactly as received
 * (before any JSON parsing) and the `offload-signature` header. Throws OffloadError
 * ERR_WEBHOOK_SIGNATURE when the header is missing or malformed, when no `v1` signature matches
 * (compared in constant time), or when its timestamp is more than `toleranceSeconds` (default 300)
 * away from `now` (epoch milliseconds, default `Date.now()`), which stops replays of old deliveries.
 */
export function verifyWebhook<Result = unknown>(params: {
  secret: string;
  body: string | Uint8Array;
  signature: string | null | undefined;
  toleranceSeconds?: number;
  now?: number;
}): WebhookPayload<Result> {
  const { timestamp, signatures } = parseHeader(params.signature);
  const expected = Buffer.from(mac(params.secret, timestamp, params.body), 'hex');
  const matches = signatures.some((candidate) => {
    const given = Buffer.from(candidate, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches)
    throw refused(
      'no v1 signature matches the body: the body was changed, or the secret differs from `offload webhook secret`',
    );
  const tolerance = params.toleranceSeconds ?? 300;
  const age = Math.abs((params.now ?? Date.now()) / 1000 - timestamp);
  if (age > tolerance)
    throw refused(
      `its timestamp is ${Math.round(age)} s away from now, more than the tolerance of ${tolerance} s (a replay, or a clock out of sync)`,
    );
  const text =
    typeof params.body === 'string' ? params.body : Buffer.from(params.body).toString('utf8');
  try {
    return JSON.parse(text) as WebhookPayload<Result>;
  } catch {
    throw refused('the signed body is not JSON');
  }
}

function parseHeader(header: string | null | undefined): {
  timestamp: number;
  signatures: string[];
} {
  if (typeof header !== 'string' || header.trim() === '')
    throw refused(`the ${SIGNATURE_HEADER} header is missing`);
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw refused(
      `the ${SIGNATURE_HEADER} header is malformed: expected "t=<unix seconds>,v1=<64 hex digits>"`,
    );
  }
  return { timestamp, signatures };
}

function mac(secret: string, timestamp: number, body: string | Uint8Array): string {
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'webhook secret must be a non-empty string (see `offload webhook secret`)',
    );
  }
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

function refused(reason: string): OffloadError {
  return new OffloadError(ErrorCodes.WEBHOOK_SIGNATURE, `webhook refused: ${reason}`);
}
