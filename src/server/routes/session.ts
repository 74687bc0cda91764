import { z } from 'zod';
import type { Authenticate } from '../auth.ts';
import { HttpProblem } from '../problem.ts';
import { defineRoute, type RouteSpec } from '../route.ts';
import { problemSchema } from '../schemas.ts';
import { readCookie, SESSION_COOKIE, sessionCookie, type SessionStore } from '../sessions.ts';

const sessionSchema = z
  .object({
    name: z.string(),
    scopes: z.array(z.string()),
    csrfToken: z.string().nullable().meta({
      description:
        'Echo it in `x-csrf-token` on state-changing requests made with the session cookie',
    }),
  })
  .meta({ id: 'Session' });

/** Dashboard log-in with a token (sets an HttpOnly, SameSite=Strict cookie), who am I, and log-out. */
export function sessionRoutes(
  sessions: SessionStore,
  authenticate: Authenticate | null,
  ttlSeconds: number,
): RouteSpec[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/session',
      summary: 'Log in with a token: sets the session cookie the dashboard uses',
      scope: null,
      body: z.strictObject({ token: z.string().min(1).max(500) }),
      responses: {
        200: { description: 'Logged in', schema: sessionSchema },
        401: {
          description: 'Unknown or revoked token',
          schema: problemSchema,
          contentType: 'application/problem+json',
        },
      },
      async handler({ body, reply }) {
        const principal = authenticate ? await authenticate(body.token) : undefined;
        if (!principal)
          throw new HttpProblem(
            401,
            'ERR_UNAUTHORIZED',
            'that token is unknown or revoked; use the one `offload start` printed, or create one with `offload token create`',
          );
        const session = sessions.create(principal);
        reply.header('set-cookie', sessionCookie(session.id, ttlSeconds));
        return {
          name: principal.name,
          scopes: [...principal.scopes],
          csrfToken: session.csrfToken,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/session',
      summary: 'Who this request is, and the CSRF token of its session',
      scope: 'jobs:read',
      responses: {
        200: { description: 'The caller', schema: sessionSchema },
        401: {
          description: 'Not logged in',
          schema: problemSchema,
          contentType: 'application/problem+json',
        },
      },
      async handler({ request }) {
        const principal = request.principal!;
        return {
          name: principal.name,
          scopes: [...principal.scopes],
          csrfToken: request.session?.csrfToken ?? null,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/session/logout',
      summary: 'End the session of the cookie sent',
      scope: null,
      responses: { 204: { description: 'Logged out' } },
      async handler({ request, reply }) {
        const id = readCookie(request.headers.cookie, SESSION_COOKIE);
        const session = sessions.get(id);
        if (session && request.headers['x-csrf-token'] !== session.csrfToken) {
          throw new HttpProblem(
            403,
            'ERR_CSRF',
            'log-out needs the session CSRF token in `x-csrf-token`',
          );
        }
        if (id) sessions.delete(id);
        reply.code(204).header('set-cookie', sessionCookie('', 0));
        return undefined;
      },
    }),
  ];
}
