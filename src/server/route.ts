import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Scope } from '../auth/tokens.ts';
import { requireScope, type Principal } from './auth.ts';
import { parseRequestPart } from './problem.ts';

/** A response a route may give, for the OpenAPI document. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
}

/** What a handler receives: the parsed parts of the request and who sent it. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  headers: FastifyRequest['headers'];
  principal: Principal | undefined;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * One endpoint, described once: Fastify serves it from this and `/v1/openapi.json` documents it
 * from this. `scope` null means no token is needed.
 */
export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path syntax: `/v1/jobs/:id`. */
  url: string;
  summary: string;
  scope: Scope | null;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /**
   * How a body that fails its schema is answered. Default 400 `ERR_INVALID_REQUEST`; settings whose
   * values are out of range answer 422 with the code the library throws for them.
   */
  invalidBody?: { status: number; code: string };
  responses: Record<number, ResponseSpec>;
  /** Returns the JSON body (status 200 unless the handler set another), or nothing after `reply.hijack()`. */
  handler(input: RouteInput<P, Q, B>): Promise<unknown>;
}

/** Keeps the parsed types of a route's schemas flowing into its handler. */
export function defineRoute<P = undefined, Q = undefined, B = undefined>(
  spec: RouteSpec<P, Q, B>,
): RouteSpec {
  return spec as unknown as RouteSpec;
}

/** Serves each route, checking its token scope, then its params, query and body by schema. */
export function registerRoutes(app: FastifyInstance, routes: readonly RouteSpec[]): void {
  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.url,
      handler: async (request, reply) => {
        const principal = route.scope === null ? undefined : requireScope(request, route.scope);
        const input: RouteInput<unknown, unknown, unknown> = {
          params: route.params
            ? parseRequestPart(route.params, request.params, 'params')
            : undefined,
          query: route.query
            ? parseRequestPart(route.query, request.query ?? {}, 'query')
            : undefined,
          body: route.body
            ? parseRequestPart(route.body, request.body, 'body', route.invalidBody)
            : undefined,
          headers: request.headers,
          principal,
          request,
          reply,
        };
        const result = await route.handler(input);
        if (reply.sent) return reply;
        return result;
      },
    });
  }
}
