import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { sessionCookie, type SessionStore } from '../sessions.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Where the bundled dashboard lives: beside the compiled server in dist, or in dist when run from source. */
export function dashboardDirectory(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.resolve(here, '../../dashboard'),
    path.resolve(here, '../../../dist/dashboard'),
  ];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'app.js')));
}

/**
 * Serves the dashboard's files (read once, kept in memory) and the one-time login link. The
 * dashboard itself talks only to the API.
 */
export function registerDashboard(
  app: FastifyInstance,
  sessions: SessionStore,
  ttlSeconds: number,
): void {
  const dir = dashboardDirectory();
  const files = new Map<string, Buffer>();
  if (dir) {
    for (const name of fs.readdirSync(dir)) {
      if (TYPES[path.extname(name)]) files.set(name, fs.readFileSync(path.join(dir, name)));
    }
  }
  const send =
    (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) => {
      const body = files.get(name);
      if (!body) {
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send(
            'The dashboard is not built: run `npm run build` (it bundles src/dashboard into dist/dashboard).',
          );
      }
      return reply
        .headers(SECURITY_HEADERS)
        .header('cache-control', 'no-cache')
        .type(TYPES[path.extname(name)]!)
        .send(body);
    };
  app.get('/', send('index.html'));
  app.get('/assets/:file', async (request, reply) => {
    const file = (request.params as { file: string }).file;
    if (!files.has(file) || file === 'index.html') return reply.callNotFound();
    return send(file)(request, reply);
  });
  app.get('/login', async (request, reply) => {
    const code = (request.query as { code?: unknown }).code;
    const session = typeof code === 'string' ? sessions.redeem(code) : undefined;
    if (!session) return reply.redirect('/?login=expired', 303);
    return reply.header('set-cookie', sessionCookie(session.id, ttlSeconds)).redirect('/', 303);
  });
}
