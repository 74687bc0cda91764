import { ErrorCodes, OffloadError, type ErrorCode } from './errors.ts';

/** Deepest nesting of objects and arrays a payload may have; deeper JSON is almost always an attack or a bug. */
export const MAX_PAYLOAD_DEPTH = 200;

/** Default largest payload, as UTF-8 JSON: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** Encodes a job's payload, refusing what JSON would change and what is over `maxBytes`. */
export function encodePayload(payload: unknown, taskName: string, maxBytes: number): string {
  return encodeJson(payload, {
    label: `payload for task "${taskName}"`,
    code: ErrorCodes.INVALID_PAYLOAD,
    maxBytes,
    details: { task: taskName },
  });
}

/**
 * Turns a value into the JSON text the store keeps. Refuses what JSON would silently change
 * (functions, symbols, `undefined` in arrays, BigInt, NaN, cycles, class instances
 * other than Date) so that what a reader gets is what the writer sent.
 */
export function encodeJson(
  value: unknown,
  options: { label: string; code: ErrorCode; maxBytes: number; details?: Record<string, unknown> },
): string {
  const problem = findUnserializable(value, '$', new Set(), 0);
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
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > options.maxBytes) {
    throw new OffloadError(
      ErrorCodes.PAYLOAD_TOO_LARGE,
      `${options.label} is ${bytes} bytes of JSON, over the limit of ${options.maxBytes}. ` +
        'Store large data elsewhere and pass a reference, or raise `maxPayloadBytes`.',
      { details: { ...options.details, bytes, maxBytes: options.maxBytes } },
    );
  }
  return json;
}

function findUnserializable(value: unknown, path: string, seen: Set<object>, depth: number): string | undefined {
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
  if (depth >= MAX_PAYLOAD_DEPTH) return `${path.slice(0, 40)}… is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
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
