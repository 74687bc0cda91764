import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Authenticate, Principal } from './auth.ts';

/**
 * A token made at server start and kept only in memory: it lets the person who started the
 * server in, with every scope, until the server stops. Stored tokens (`offload token create`) are
 * for everything that outlives one run.
 */
export class SessionToken {
  readonly token = `off_session_${randomBytes(24).toString('base64url')}`;
  readonly #hash = digest(this.token);
  readonly principal: Principal = Object.freeze({
    id: 'session',
    name: 'session token of this server',
    scopes: Object.freeze(['admin' as const]),
  });

  matches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.#hash);
  }

  /** Accepts the session token, then asks `next` (stored tokens) about any other. */
  authenticate(next?: Authenticate): Authenticate {
    return async (candidate) =>
      this.matches(candidate) ? this.principal : next ? next(candidate) : undefined;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
