import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { hasNul } from '../core/limits.ts';
import { closest } from '../core/closest.ts';
import type { Store, TokenRecord } from '../store/contract.ts';

/** What a token may do. `admin` implies the other two. */
export type Scope = 'jobs:write' | 'jobs:read' | 'admin';

export const SCOPES: readonly Scope[] = Object.freeze(['jobs:write', 'jobs:read', 'admin']);

/** A token as listings show it: never its secret. Times are epoch milliseconds. */
export interface TokenInfo {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

const TOKEN_PATTERN = /^off_([0-9a-f]{12})_([0-9a-f]{64})$/;
/** Uses are recorded at most once a minute per token, so authenticating stays a read. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Creates a token; the secret is returned once and only its SHA-256 hash is stored.
 * Format: `off_<id>_<secret>` (12 and 64 hex digits). Throws ERR_INVALID_OPTION for an empty
 * name or a scope that is not one of {@link SCOPES}.
 */
export async function createToken(
  store: Store,
  params: { name: string; scopes: Scope[] },
): Promise<{ token: string; info: TokenInfo }> {
  const name = typeof params.name === 'string' ? params.name.trim() : '';
  if (name.length === 0 || name.length > 200 || hasNul(name)) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'token name must be 1-200 characters without the NUL character U+0000, saying who or what uses it (e.g. "billing-service")',
    );
  }
  const scopes = parseScopes(params.scopes);
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const record = await store.tokenCreate({ id, name, scopes, hash: hashSecret(secret) });
  return { token: `off_${id}_${secret}`, info: infoOf(record) };
}

/** The token's info when it is well-formed, known, unrevoked and its hash matches (timingSafeEqual); else undefined. */
export async function authenticateToken(
  store: Store,
  token: string,
): Promise<TokenInfo | undefined> {
  const match = typeof token === 'string' ? TOKEN_PATTERN.exec(token) : null;
  if (!match) return undefined;
  const record = await store.tokenGet({ id: match[1]! });
  if (!record || record.revokedAt !== null) return undefined;
  const expected = Buffer.from(record.hash, 'hex');
  const actual = Buffer.from(hashSecret(match[2]!), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  const now = store.clock.now();
  if (record.lastUsedAt === null || now - record.lastUsedAt >= TOUCH_INTERVAL_MS) {
    await store.tokenTouch({ id: record.id, minIntervalMs: TOUCH_INTERVAL_MS });
    record.lastUsedAt = now;
  }
  return infoOf(record);
}

/** Every token, revoked ones too, oldest first. */
export async function listTokens(store: Store): Promise<TokenInfo[]> {
  return (await store.tokenList()).map(infoOf);
}

/** Revokes a token at once; false when there is no such token or it was revoked already. */
export function revokeToken(store: Store, id: string): Promise<boolean> {
  // No token id holds U+0000, and PostgreSQL's text cannot even compare one: no such token.
  if (hasNul(String(id))) return Promise.resolve(false);
  return store.tokenRevoke({ id: String(id) });
}

/** Whether a token may do what `scope` covers; `admin` covers everything. */
export function hasScope(info: { readonly scopes: readonly Scope[] }, scope: Scope): boolean {
  return info.scopes.includes('admin') || info.scopes.includes(scope);
}

/** Checks scope names (from code or the command line); at least one is needed. */
export function parseScopes(scopes: readonly string[] | undefined): Scope[] {
  if (!Array.isArray(scopes) || scopes.length === 0) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `a token needs at least one scope: ${SCOPES.join(', ')}`,
    );
  }
  for (const scope of scopes) {
    if ((SCOPES as readonly string[]).includes(scope)) continue;
    const guess = closest(String(scope), SCOPES);
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `"${scope}" is not a scope${guess ? `; did you mean "${guess}"?` : ''} (scopes: ${SCOPES.join(', ')})`,
      { details: { scope } },
    );
  }
  return [...new Set(scopes as Scope[])];
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function infoOf(record: TokenRecord): TokenInfo {
  return {
    id: record.id,
    name: record.name,
    scopes: record.scopes.filter((scope): scope is Scope =>
      (SCOPES as readonly string[]).includes(scope),
    ),
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
    lastUsedAt: record.lastUsedAt,
  };
}
