import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import type { PostgresTarget } from './postgres-options.ts';

/**
 * Turns a failure at start into an OffloadError that names what to fix. Messages are built from
 * the password-free target, never from the connection string.
 */
export function startError(error: unknown, target: PostgresTarget, schema: string): OffloadError {
  if (error instanceof OffloadError) return error;
  const code = (error as { code?: unknown })?.code;
  const at = target.label;
  const reason = (error as Error)?.message ?? String(error);
  const fail = (errorCode: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string) =>
    new OffloadError(errorCode, message, {
      cause: error,
      details: { target: at, ...(typeof code === 'string' ? { pgCode: code } : {}) },
    });
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return fail(
        ErrorCodes.STORE_CONNECT,
        `cannot reach PostgreSQL at ${at} (${code}): is the server running, and are host and port right?`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return fail(
        ErrorCodes.STORE_CONNECT,
        `cannot resolve the host of ${at} (${code}): check the host name in the connection string`,
      );
    case '28P01':
    case '28000':
      return fail(
        ErrorCodes.STORE_CONNECT,
        `PostgreSQL at ${at} refused user "${target.user}" (${reason}): check the user and password in the connection string`,
      );
    case '3D000':
      return fail(
        ErrorCodes.STORE_CONNECT,
        `database "${target.database}" does not exist at ${at}: create it (createdb ${target.database}) or fix the connection string`,
      );
    case '42501':
      return fail(
        ErrorCodes.STORE_PERMISSION,
        `user "${target.user}" may not create or change schema "${schema}" in ${at} (${reason}): ` +
          `run GRANT CREATE ON DATABASE ${target.database} TO ${target.user}, or have an owner create the schema and grant ` +
          `${target.user} all privileges on it, or choose another \`schema\``,
      );
    default:
      break;
  }
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return fail(
      ErrorCodes.STORE_CONNECT,
      `PostgreSQL at ${at} failed while opening the store: ${reason} (SQLSTATE ${code})`,
    );
  }
  if (/timeout/i.test(reason)) {
    return fail(
      ErrorCodes.STORE_CONNECT,
      `no answer from ${at} within the connect timeout: is it a PostgreSQL server, and is it reachable?`,
    );
  }
  return fail(
    ErrorCodes.STORE_CONNECT,
    `cannot open the store at ${at}: ${reason}. Is it a PostgreSQL server? Check host, port and the connection string`,
  );
}

/** True for errors that mean the connection (not the statement) failed: worth a reconnect. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (
    typeof code === 'string' &&
    (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')
  )
    return true;
  if (typeof code === 'string' && code.startsWith('E')) return true;
  return /Connection terminated|connection.*(ended|closed)|not queryable/i.test(
    (error as Error)?.message ?? '',
  );
}
