import { ErrorCodes, OffloadError, type ErrorCode } from './errors.ts';

/** Deepest nesting of objects and arrays a payload may have; deeper JSON is almost always an attack or a bug. */
export const MAX_PAYLOAD_DEPTH = 200;

/** Default largest payload, as UTF-8 JSON: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** Encodes a job's payload, refusing what JSON would change and what is over `maxBytes`. */
export function encodePayload(payload: unknown, taskName: string, maxBytes: number): string {
  const json = fastJson(payload, maxBytes);
  if (json !== undefined) return json;
  return encodeJson(payload, {
    label: `payload for task "${taskName}"`,
    code: ErrorCodes.INVALID_PAYLOAD,
    maxBytes,
    limitOption: "the queue's `maxPayloadBytes`",
    details: { task: taskName },
  });
}

/**
 * Turns a value into the JSON text the store keeps. Refuses what JSON would silently change
 * (functions, symbols, `undefined` in arrays, BigInt, NaN, cycles, class instances
 * other than Date) so that what a reader gets is what the writer sent. `limitOption` names the
 * option that sets `maxBytes`, for the advice when the JSON is over it.
 */
export function encodeJson(
  value: unknown,
  options: {
    label: string;
    code: ErrorCode;
    maxBytes: number;
    limitOption: string;
    details?: Record<string, unknown>;
  },
): string {
  const problem = isPlainJson(value, []) ? undefined : findUnserializable(value, '$', new Set(), 0);
  if (problem) {
    throw new OffloadError(
      options.code,
      `${options.label} is not JSON-serialisable: ${problem}. ` +
        'Use plain objects, arrays, strings, finite numbers, booleans and null; ' +
        'pass big or binary data by reference (a path or a key).',
      { details: { ...options.details } },
    );
  }
  const json = JSON.stringify(value ?? null);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only text near the limit needs counting.
  const bytes = json.length * 3 > options.maxBytes ? Buffer.byteLength(json, 'utf8') : 0;
  if (bytes > options.maxBytes) {
    throw new OffloadError(
      ErrorCodes.PAYLOAD_TOO_LARGE,
      `${options.label} is ${bytes} bytes of JSON, over the limit of ${options.maxBytes}. ` +
        `Store large data elsewhere and pass a reference, or raise ${options.limitOption}.`,
      { details: { ...options.details, bytes, maxBytes: options.maxBytes } },
    );
  }
  return json;
}

/** The JSON of a value JSON keeps exactly and that is surely within `maxBytes`; else undefined. */
function fastJson(value: unknown, maxBytes: number): string | undefined {
  if (!isPlainJson(value, [])) return undefined;
  const json = JSON.stringify(value ?? null);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only text near the limit needs counting.
  return json.length * 3 <= maxBytes ? json : undefined;
}

/**
 * The hot path of every enqueue: true when JSON keeps `value` exactly. Builds no paths; on false,
 * findUnserializable walks again to name the problem (or, for an array hole, accepts it as before).
 * `ancestors` holds the objects above `value`.
 */
function isPlainJson(value: unknown, ancestors: object[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'undefined':
      return ancestors.length === 0;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null || value instanceof Date) return true;
  if (ancestors.length >= MAX_PAYLOAD_DEPTH || ancestors.includes(value)) return false;
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      if (item === undefined || !isPlainJson(item, ancestors)) return false;
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (child !== undefined && !isPlainJson(child, ancestors)) return false;
    }
  }
  ancestors.pop();
  return true;
}

function findUnserializable(
  value: unknown,
  path: string,
  seen: Set<object>,
  depth: number,
): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}`;
    case 'undefined':
      return path === '$' ? undefined : `${path} is undefined`;
    case 'function':
    case 'symbol':
    case 'bigint':
      return `${path} is a ${typeof value}`;
  }
  if (value === null || value instanceof Date) return undefined;
  const object = value as object;
  if (seen.has(object)) return `${path} is a circular reference`;
  if (depth >= MAX_PAYLOAD_DEPTH)
    return `${path.slice(0, 40)}… is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  const proto: unknown = Object.getPrototypeOf(object);
  if (!Array.isArray(object) && proto !== Object.prototype && proto !== null) {
    return `${path} is a ${object.constructor?.name ?? 'class'} instance`;
  }
  seen.add(object);
  for (const [key, child] of Object.entries(object)) {
    if (child === undefined && !Array.isArray(object)) continue;
    const childPath = Array.isArray(object) ? `${path}[${key}]` : `${path}.${key}`;
    const problem = findUnserializable(child, childPath, seen, depth + 1);
    if (problem) return problem;
  }
  seen.delete(object);
  return undefined;
}
