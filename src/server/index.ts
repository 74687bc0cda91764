/**
 * offload/server: the HTTP API (Fastify), its live event streams, Prometheus metrics and the
 * dashboard, and the API tokens it checks. See docs/http-api.md and docs/auth.md.
 */
export { createServer, type OffloadServer, type ServerOptions } from './server.ts';
export type { Authenticate, Principal } from './auth.ts';
export type { Problem, FieldError } from './problem.ts';
export {
  createToken,
  authenticateToken,
  listTokens,
  revokeToken,
  hasScope,
  SCOPES,
  type Scope,
  type TokenInfo,
} from '../auth/tokens.ts';
export type { TokenRecord } from '../store/contract.ts';
