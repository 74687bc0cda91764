/** The dashboard's only way to the server: the public HTTP API, with the session cookie and CSRF token. */
import type { ApiJob, ApiQueue, ApiTask, ApiWorker } from '../client/resources.ts';

export interface FieldError {
  field: string;
  message: string;
}

/** A refusal from the API, carrying its problem document. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

/** The API's shapes, shared with `offload/client`: one description of what the server sends. */
export type Job = ApiJob;
export type QueueInfo = ApiQueue;
export type WorkerInfo = ApiWorker;
export type TaskInfo = Omit<ApiTask, 'payloadSchema'> & { payloadSchema: JsonSchema | null };

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  items?: JsonSchema;
  description?: string;
  minimum?: number;
  maximum?: number;
}

export interface Me {
  name: string;
  scopes: string[];
  csrfToken: string | null;
}

export { JOB_STATES } from '../core/job.ts';

/** Fired on `window` when the API says the session is gone (expired, logged out elsewhere, server restarted). */
export const SESSION_ENDED = 'offload:session-ended';

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (response.status === 204) return undefined as T;
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status === 401 && path !== '/v1/session')
    dispatchEvent(new CustomEvent(SESSION_ENDED, { detail: String(data.detail ?? '') }));
  if (!response.ok) {
    throw new ApiError(
      response.status,
      String(data.code ?? 'ERR_HTTP'),
      String(data.detail ?? response.statusText),
      (data.errors as FieldError[]) ?? [],
    );
  }
  return data as T;
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError)
    return error.errors.length
      ? error.errors.map((e) => `${e.field}: ${e.message}`).join('\n')
      : error.message;
  return error instanceof Error ? error.message : String(error);
}
