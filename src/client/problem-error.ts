/** One wrong field of a refused request: where (`body.payload.name`) and what to do about it. */
export interface ProblemField {
  field: string;
  message: string;
}

/**
 * The server refused or failed a request: built from its `application/problem+json` answer
 * (RFC 9457). Branch on `status` or `code` (`ERR_TASK_NOT_FOUND`, `ERR_INVALID_REQUEST`,
 * `ERR_RATE_LIMITED`…); `detail` says what to fix and `errors` names each wrong field.
 * An answer that is not a problem document (a proxy's error page) gets the code `ERR_HTTP_<status>`.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: readonly ProblemField[];
  /** Seconds the server asked to wait before trying again (`Retry-After`), when it said. */
  readonly retryAfter: number | undefined;

  constructor(problem: {
    status: number;
    code: string;
    detail: string;
    type?: string;
    title?: string;
    errors?: readonly ProblemField[];
    retryAfter?: number;
  }) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.name = 'ProblemError';
    this.status = problem.status;
    this.code = problem.code;
    this.type = problem.type ?? 'about:blank';
    this.title = problem.title ?? '';
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.retryAfter = problem.retryAfter;
  }
}

/** Reads a failed response into a ProblemError, whatever its body holds. */
export async function problemFromResponse(response: Response): Promise<ProblemError> {
  const text = await response.text().catch(() => '');
  const retryAfter = Number(response.headers.get('retry-after') ?? NaN);
  const base = { status: response.status, ...(Number.isFinite(retryAfter) ? { retryAfter } : {}) };
  const document = parseProblem(text);
  if (document) return new ProblemError({ ...base, ...document });
  const kind = response.headers.get('content-type') ?? 'no content type';
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new ProblemError({
    ...base,
    code: `ERR_HTTP_${response.status}`,
    title: response.statusText,
    detail: `the server answered ${response.status} ${response.statusText} with ${kind}, not a problem document${excerpt ? `: ${excerpt}` : ''}; is the client's url an offload server?`,
  });
}

function parseProblem(
  text: string,
):
  | { code: string; detail: string; type?: string; title?: string; errors?: ProblemField[] }
  | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const problem = value as Record<string, unknown> | null;
  if (!problem || typeof problem.code !== 'string' || typeof problem.detail !== 'string')
    return undefined;
  return {
    code: problem.code,
    detail: problem.detail,
    ...(typeof problem.type === 'string' ? { type: problem.type } : {}),
    ...(typeof problem.title === 'string' ? { title: problem.title } : {}),
    ...(Array.isArray(problem.errors) ? { errors: problem.errors as ProblemField[] } : {}),
  };
}
