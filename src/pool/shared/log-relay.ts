/**
 * `ctx.logger` where the worker's logger is out of reach (inside a thread, a child process, or a
 * bare pool's run): each call becomes a {@link LogEntry} of plain data that crosses the pool
 * protocol, and the parent writes it to the real logger with {@link writeLog}. Platform-neutral.
 */
import type { TaskLogFn, TaskLogger } from '../../task/task.ts';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** A pino level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One `ctx.logger` call as data: its level, its fields (errors made plain, marked) and its message. */
export interface LogEntry {
  level: LogLevel;
  fields: Record<string, unknown> | undefined;
  msg: string | undefined;
}

/** A {@link TaskLogger} that hands each call to `send`, with `bindings` among its fields. */
export function relayLogger(
  send: (entry: LogEntry) => void,
  bindings?: Record<string, unknown>,
): TaskLogger {
  const method =
    (level: LogLevel): TaskLogFn =>
    (first: unknown, ...rest: unknown[]) =>
      send(toEntry(level, first, rest, bindings));
  return {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    child: (more) => relayLogger(send, { ...bindings, ...plainFields(more) }),
  };
}

/** Marks a field that was an Error, so the parent logs an Error again (as pino serialises it). */
const ERROR_MARK = '~error';

/**
 * Writes an entry that crossed the protocol to `logger`, with the errors among its fields made
 * errors again, so its line reads as if the task had logged there. An unknown level is `info`.
 */
export function writeLog(logger: TaskLogger, entry: LogEntry): void {
  const level = (LOG_LEVELS as readonly string[]).includes(entry?.level) ? entry.level : 'info';
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(entry?.fields ?? {}))
    fields[key] = isMarkedError(value) ? reviveError(value) : value;
  if (typeof entry?.msg === 'string') logger[level](fields, entry.msg);
  else logger[level](fields);
}

/** pino's call shapes: `(msg, ...args)`, `(fields, msg?, ...args)`, `(error, msg?)`. */
function toEntry(
  level: LogLevel,
  first: unknown,
  rest: unknown[],
  bindings: Record<string, unknown> | undefined,
): LogEntry {
  if (typeof first === 'string') return { level, fields: bindings, msg: format(first, rest) };
  const [msg, ...args] = rest;
  if (first instanceof Error) {
    const text = typeof msg === 'string' ? format(msg, args) : first.message;
    return { level, fields: { ...bindings, err: plainError(first) }, msg: text };
  }
  const fields =
    typeof first === 'object' && first !== null
      ? plainFields(first as Record<string, unknown>)
      : {};
  return {
    level,
    fields: { ...bindings, ...fields },
    msg: typeof msg === 'string' ? format(msg, args) : undefined,
  };
}

/** printf-style `%s %d %i %f %j %o %O %%` as pino does, with leftover arguments appended. */
function format(message: string, args: unknown[]): string {
  if (args.length === 0) return message;
  let next = 0;
  const text = message.replace(/%[sdifjoO%]/g, (token) => {
    if (token === '%%') return '%';
    if (next >= args.length) return token;
    const value = args[next++];
    if (token === '%d' || token === '%i') return String(Math.trunc(Number(value)));
    if (token === '%f') return String(Number(value));
    if (token === '%s') return typeof value === 'string' ? value : describe(value);
    return describe(value);
  });
  const leftover = args.slice(next).map((value) => describe(value));
  return leftover.length > 0 ? `${text} ${leftover.join(' ')}` : text;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Fields as plain data: errors become marked `{ name, message, stack, code }`, the rest JSON. */
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) plain[key] = plainError(value);
    else if (value !== undefined) plain[key] = plainValue(value);
  }
  return plain;
}

function plainValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol'
      ? String(value)
      : value;
  }
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return String(value);
  }
}

function plainError(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return {
    [ERROR_MARK]: true,
    name: error.name,
    message: error.message,
    stack: error.stack,
    ...(typeof code === 'string' ? { code } : {}),
  };
}

function isMarkedError(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && ERROR_MARK in value;
}

function reviveError(plain: Record<string, unknown>): Error {
  const error = new Error(String(plain.message));
  Object.defineProperty(error, 'name', {
    value: String(plain.name),
    configurable: true,
    writable: true,
  });
  error.stack = typeof plain.stack === 'string' ? plain.stack : undefined;
  if (typeof plain.code === 'string') Object.assign(error, { code: plain.code });
  return error;
}
