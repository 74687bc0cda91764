import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from './auth.ts';

/** A logged-in browser: who it is, and the CSRF token its state-changing requests must echo. */
export interface Session {
  id: string;
  principal: Principal;
  csrfToken: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'offload_session';

/**
 * Dashboard sessions, kept in memory (a restart logs everyone out, which is fine for a console),
 * and one-time login codes: the link `offload start` prints carries a code that works once, so a
 * token never appears in a URL, a history or a log.
 */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #codes = new Map<string, { principal: Principal; expiresAt: number }>();
  readonly #ttlMs: number;

  constructor(options: { ttlMs?: number } = {}) {
    this.#ttlMs = options.ttlMs ?? 12 * 3_600_000;
  }

  create(principal: Principal): Session {
    this.#prune();
    const session = {
      id: secret(),
      principal,
      csrfToken: secret(),
      expiresAt: Date.now() + this.#ttlMs,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt < Date.now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  /** A code for a login link, valid once and for `ttlMs` (default 15 minutes). */
  createLoginCode(principal: Principal, ttlMs = 15 * 60_000): string {
    const code = secret();
    this.#codes.set(code, { principal, expiresAt: Date.now() + ttlMs });
    return code;
  }

  /** Trades a login code for a session; the code is spent either way. */
  redeem(code: string): Session | undefined {
    const entry = this.#codes.get(code);
    this.#codes.delete(code);
    if (!entry || entry.expiresAt < Date.now()) return undefined;
    return this.create(entry.principal);
  }

  /** Whether `candidate` is this session's CSRF token (constant time). */
  static csrfMatches(session: Session, candidate: unknown): boolean {
    if (typeof candidate !== 'string' || candidate.length !== session.csrfToken.length)
      return false;
    return timingSafeEqual(Buffer.from(candidate), Buffer.from(session.csrfToken));
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, session] of this.#sessions)
      if (session.expiresAt < now) this.#sessions.delete(id);
    for (const [code, entry] of this.#codes) if (entry.expiresAt < now) this.#codes.delete(code);
  }
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}

/** The value of one cookie in a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** A `Set-Cookie` value for the session: HttpOnly, SameSite=Strict, the whole site. */
export function sessionCookie(value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}
