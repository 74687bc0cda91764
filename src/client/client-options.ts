import { closest } from '../core/closest.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';

/** What `createClient` takes. */
export interface ClientOptions {
  /** Base URL of the offload server, e.g. `http://127.0.0.1:7070` (a path prefix is kept). Required. */
  url: string;
  /** Bearer token (`offload start` prints one). Default none: for servers with auth switched off. */
  token?: string;
  /** The fetch to use. Default `globalThis.fetch` (Node 20, browsers, Deno, Bun). */
  fetch?: typeof fetch;
  /** Extra headers sent with every request. Default none. */
  headers?: Record<string, string>;
}

const KNOWN = ['url', 'token', 'fetch', 'headers'];

/**
 * Checks `createClient` options with the same messages as `parseOptions`, but by hand: zod would
 * make the browser bundle of the client about twenty times larger.
 */
export function checkClientOptions(options: unknown): ClientOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalid('options must be an object such as { url, token }');
  const given = options as Record<string, unknown>;
  const unknown = Object.keys(given).find((key) => !KNOWN.includes(key));
  if (unknown !== undefined) {
    const guess = closest(unknown, KNOWN);
    throw invalid(
      `unknown option \`${unknown}\`${guess ? `, did you mean \`${guess}\`?` : `; known options: ${KNOWN.join(', ')}`}`,
      unknown,
    );
  }
  if (typeof given.url !== 'string' || !isHttpUrl(given.url))
    throw invalid(
      'option `url` must be an absolute http:// or https:// URL, such as http://127.0.0.1:7070',
      'url',
    );
  if (given.token !== undefined && (typeof given.token !== 'string' || given.token === ''))
    throw invalid('option `token` must be a non-empty string', 'token');
  if (given.fetch !== undefined && typeof given.fetch !== 'function')
    throw invalid('option `fetch` must be a fetch function', 'fetch');
  const headers = given.headers;
  if (
    headers !== undefined &&
    (typeof headers !== 'object' ||
      headers === null ||
      Object.values(headers).some((value) => typeof value !== 'string'))
  ) {
    throw invalid('option `headers` must be an object of header names to string values', 'headers');
  }
  return given as unknown as ClientOptions;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function invalid(message: string, option?: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, `createClient: ${message}`, {
    details: { label: 'createClient', ...(option === undefined ? {} : { option }) },
  });
}
