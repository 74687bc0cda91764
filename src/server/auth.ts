import type { FastifyRequest } from 'fastify';
import { hasScope, type Scope } from '../auth/tokens.ts';
import { HttpProblem } from './problem.ts';
import { readCookie, SESSION_COOKIE, SessionStore, type Session } from './sessions.ts';

/** Whoever a valid token belongs to. */
export interface Principal {
  id: string;
  name: string;
  scopes: readonly Scope[];
}

/** Finds the owner of a bearer token; undefined for unknown, revoked or malformed tokens. */
export type Authenticate = (token: string) => Promise<Principal | undefined>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook when the request carried a valid token. */
    principal: Principal | undefined;
    /** Set when the request carried a token that was refused. */
    authFailure: string | undefined;
    /** Set when the request was let in by a dashboard session cookie rather than a bearer token. */
    session: Session | undefined;
  }
}

/** The token in an `Authorization: Bearer …` header, if any. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+([\x21-\x7e]{1,500})\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Resolves who sent the request once, before routing, so rate limits and handlers see it: a
 * bearer token, else a dashboard session cookie.
 */
export async function identify(
  request: FastifyRequest,
  authenticate: Authenticate | null,
  sessions: SessionStore,
): Promise<void> {
  request.principal = undefined;
  request.authFailure = undefined;
  request.session = undefined;
  if (authenticate === null) {
    request.principal = OPEN_ACCESS;
    return;
  }
  const header = request.headers.authorization;
  if (!header) {
    const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
    request.session = sessions.get(cookie);
    request.principal = request.session?.principal;
    if (cookie && !request.session)
      request.authFailure = 'the session has expired or was ended; log in again';
    return;
  }
  const token = bearerToken(request);
  if (token === undefined) {
    request.authFailure = 'the Authorization header must be `Bearer <token>`';
    return;
  }
  request.principal = await authenticate(token);
  if (!request.principal)
    request.authFailure = 'the token is unknown or revoked; create one with `offload token create`';
}

/** The principal of a server started with auth turned off (tests, trusted networks). */
const OPEN_ACCESS: Principal = Object.freeze({
  id: 'open',
  name: 'open access (auth disabled)',
  scopes: Object.freeze(['admin' as const]),
});

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Throws a 401 or 403 problem unless the request's token carries `scope`. A request let in by a
 * session cookie that changes state must also echo the session's CSRF token in `x-csrf-token`.
 */
export function requireScope(request: FastifyRequest, scope: Scope): Principal {
  const principal = request.principal;
  const challenge = { 'www-authenticate': `Bearer realm="offload", scope="${scope}"` };
  if (!principal) {
    const detail =
      request.authFailure ??
      'this endpoint needs a token: send `Authorization: Bearer <token>` (offload start prints one; `offload token create` makes more)';
    throw new HttpProblem(401, 'ERR_UNAUTHORIZED', detail, { headers: challenge });
  }
  if (
    request.session &&
    !SAFE_METHODS.has(request.method) &&
    !SessionStore.csrfMatches(request.session, request.headers['x-csrf-token'])
  ) {
    throw new HttpProblem(
      403,
      'ERR_CSRF',
      'this request came with a session cookie but without its CSRF token: send the `x-csrf-token` header from GET /v1/session (reload the page)',
    );
  }
  if (!hasScope(principal, scope)) {
    throw new HttpProblem(
      403,
      'ERR_FORBIDDEN',
      `this token (${principal.name}) lacks the \`${scope}\` scope; create one with \`offload token create --scope ${scope}\``,
      {
        headers: challenge,
      },
    );
  }
  return principal;
}
