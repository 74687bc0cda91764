import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OffloadError } from '../core/errors.ts';
import { closest } from '../core/closest.ts';

/** One wrong field of a request: where it is (`body.payload.to`) and what to do about it. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An RFC 9457 problem document. `code` is the machine-readable reason (offload's own `ERR_*`
 * codes where one applies); `errors` names each wrong field.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: FieldError[];
}

/** An error the API answers with a problem document instead of a 500. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  409: 'Conflict',
  413: 'Content too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  500: 'Internal server error',
  503: 'Service unavailable',
  507: 'Insufficient storage',
};

const STATUS_BY_CODE: Record<string, number> = {
  ERR_INVALID_OPTION: 400,
  ERR_INVALID_PAYLOAD: 422,
  ERR_INVALID_KEY: 422,
  ERR_INVALID_META: 422,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_TASK_NOT_FOUND: 422,
  ERR_JOB_NOT_FOUND: 404,
  ERR_JOB_STATE: 409,
  ERR_BULK_NOT_FOUND: 404,
  ERR_BULK_FILTER_EMPTY: 422,
  ERR_IDEMPOTENCY_CONFLICT: 409,
  ERR_QUEUE_FULL: 503,
  ERR_STORE_CLOSED: 503,
  ERR_STORE_CONNECT: 503,
  ERR_STORE_FULL: 507,
  ERR_STORE_CORRUPT: 503,
};

/**
 * Parses one part of a request with its schema, or throws a problem naming every wrong field:
 * 400 `ERR_INVALID_REQUEST` unless `refusal` says otherwise.
 */
export function parseRequestPart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: 'body' | 'query' | 'params' | 'headers',
  refusal: { status: number; code: string } = { status: 400, code: 'ERR_INVALID_REQUEST' },
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((issue) => fieldError(issue, part, schema));
  const summary = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  throw new HttpProblem(
    refusal.status,
    refusal.code,
    `the request ${part} is invalid: ${summary}`,
    {
      errors,
    },
  );
}

function fieldError(issue: z.core.$ZodIssue, part: string, schema: z.ZodType): FieldError {
  const field = [part, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, issue.path);
    const names = issue.keys.map((key) => {
      const guess = closest(key, known);
      return guess ? `\`${key}\` (did you mean \`${guess}\`?)` : `\`${key}\``;
    });
    return { field, message: `unknown field ${names.join(', ')}; allowed: ${known.join(', ')}` };
  }
  return { field, message: issue.message };
}

function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = unwrapOptional(schema);
  for (const key of path) {
    const shape = (current as { shape?: Record<string, unknown> }).shape;
    current = unwrapOptional(shape?.[String(key)]);
  }
  const shape = (current as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

function unwrapOptional(schema: unknown): unknown {
  return schema instanceof z.ZodOptional ? schema.unwrap() : schema;
}

/** Turns anything thrown by a handler (or by Fastify itself) into a problem document; never leaks a stack. */
export function toProblem(error: unknown, instance: string): Problem {
  if (error instanceof HttpProblem)
    return problem(error.status, error.code, error.message, instance, error.errors);
  if (error instanceof OffloadError) {
    const status = STATUS_BY_CODE[error.code] ?? 500;
    const detail =
      status === 500
        ? 'the server failed to handle this request; its log has the details'
        : error.message;
    return problem(
      status,
      error.code,
      detail,
      instance,
      payloadFieldErrors(error) ?? bodyFieldError(error),
    );
  }
  const fastify = error as Partial<FastifyError>;
  if (
    typeof fastify.statusCode === 'number' &&
    fastify.statusCode >= 400 &&
    fastify.statusCode < 500
  ) {
    return problem(
      fastify.statusCode,
      fastify.code ?? 'ERR_BAD_REQUEST',
      fastifyDetail(fastify),
      instance,
    );
  }
  return problem(
    500,
    'ERR_INTERNAL',
    'the server failed to handle this request; its log has the details',
    instance,
  );
}

/** The fields a payload failed its task schema on, as `body.payload.<path>` errors. */
function payloadFieldErrors(error: OffloadError): FieldError[] | undefined {
  const fields = error.details.fields;
  if (!Array.isArray(fields)) return undefined;
  const prefix =
    typeof error.details.index === 'number'
      ? `body.jobs.${error.details.index}.payload`
      : 'body.payload';
  return (fields as Array<{ path: string; message: string }>).map((f) => ({
    field: f.path ? `${prefix}.${f.path}` : prefix,
    message: f.message,
  }));
}

/** The body field an error names in `details.field` (`meta`, `tags.2`), as `body.<field>`. */
function bodyFieldError(error: OffloadError): FieldError[] | undefined {
  const field = error.details.field;
  if (typeof field !== 'string') return undefined;
  const prefix =
    typeof error.details.index === 'number' ? `body.jobs.${error.details.index}` : 'body';
  return [{ field: `${prefix}.${field}`, message: error.message }];
}

function fastifyDetail(error: Partial<FastifyError>): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'send the body as JSON with `content-type: application/json`';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'the request body is larger than the server accepts (bodyLimit); send a smaller payload or raise the limit';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the body is empty but `content-type: application/json` was sent; send a JSON object';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case undefined:
      return `the body is not valid JSON: ${error.message ?? 'parse error'}`;
    default:
      return error.message ?? 'bad request';
  }
}

function problem(
  status: number,
  code: string,
  detail: string,
  instance: string,
  errors?: FieldError[],
): Problem {
  return {
    type: `urn:offload:problem:${code
      .replace(/^(ERR|FST_ERR)_/, '')
      .toLowerCase()
      .replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    instance,
    ...(errors ? { errors } : {}),
  };
}

/** Sends a problem document with its status and headers. */
export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  error: unknown,
): FastifyReply {
  const body = toProblem(error, request.url.split('?')[0]!);
  if (error instanceof HttpProblem) reply.headers(error.headers);
  if (body.status === 500)
    request.log.error(
      { err: error, path: body.instance, method: request.method },
      'request failed',
    );
  return reply.code(body.status).type('application/problem+json').send(body);
}
