import { readFileSync } from 'node:fs';
import net from 'node:net';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { authenticateToken, listTokens } from '../auth/tokens.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../core/payload.ts';
import { createQueue } from '../queue/queue.ts';
import type { Store } from '../store/contract.ts';
import type { Task } from '../task/task.ts';
import type { Worker } from '../worker/worker.ts';
import type { ApiContext } from './api-context.ts';
import { identify, type Authenticate } from './auth.ts';
import { JobWatcher } from './job-watcher.ts';
import { ServerMetrics } from './metrics.ts';
import { buildOpenApi } from './openapi.ts';
import { HttpProblem, sendProblem } from './problem.ts';
import { registerRoutes, type RouteSpec } from './route.ts';
import { bulkRoutes } from './routes/bulk.ts';
import { jobRoutes } from './routes/jobs.ts';
import { limitsRoutes } from './routes/limits.ts';
import { queueRoutes } from './routes/queues.ts';
import { systemRoutes } from './routes/system.ts';
import { registerDashboard } from './routes/dashboard.ts';
import { sessionRoutes } from './routes/session.ts';
import { SessionToken } from './session-token.ts';
import { SessionStore } from './sessions.ts';

export interface ServerOptions {
  /** Where jobs live. Required. */
  store: Store;
  /** Task handles whose payload schemas the API checks and describes. Default none (tasks registered by workers are still known by name). */
  tasks?: readonly Task[];
  /** The worker running in this process, if any: its run times and pools appear in /metrics. */
  worker?: Worker;
  /** Default `127.0.0.1`. A non-loopback address needs a stored token (or `authenticate`). */
  host?: string;
  /** Default 7070; 0 picks a free port. */
  port?: number;
  /**
   * Who may call: a function from bearer token to principal, or `null` to switch auth off
   * (loopback only). Default: the tokens stored in the store (`offload token create`). This
   * server's session token ({@link OffloadServer.sessionToken}) is accepted in every case.
   */
  authenticate?: Authenticate | null;
  /** Largest request body in bytes. Default: 1 MiB payload plus room for the envelope. */
  bodyLimit?: number;
  /** Requests per token (or per address, without one) per window; `false` for none. Default 600 000 per minute. */
  rateLimit?: { max: number; windowMs: number } | false;
  /** Longest `?wait=` honoured, in ms. Default 60 000. */
  maxWait?: number;
  /**
   * Web origins (`https://app.example.org`) whose pages may call the API from the browser with a
   * bearer token (`offload/client`); `['*']` for any. Cookies never cross origins. Default none.
   */
  corsOrigins?: string[];
  /** Where `offload bench switch` saved its last result (`bench-switch.json`), for `GET /v1/modes`. Default: none. */
  dataDir?: string;
  logger?: Logger;
}

const optionsSchema = z.object({
  store: z.custom<Store>(
    (value) => typeof (value as Store)?.jobEnqueue === 'function',
    'must be a store (createSqliteStore())',
  ),
  tasks: z.array(z.unknown()).optional(),
  worker: z.unknown().optional(),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(7070),
  authenticate: z
    .union([
      z.null(),
      z.custom<Authenticate>((value) => typeof value === 'function', 'must be a function'),
    ])
    .optional(),
  bodyLimit: optionSchemas.positiveInt.default(DEFAULT_MAX_PAYLOAD_BYTES + 64 * 1024),
  rateLimit: z
    .union([
      z.literal(false),
      z.object({ max: optionSchemas.positiveInt, windowMs: optionSchemas.intervalMs }).strict(),
    ])
    .default({ max: 600_000, windowMs: 60_000 }),
  maxWait: optionSchemas.intervalMs.default(60_000),
  dataDir: z.string().min(1).optional(),
  corsOrigins: z
    .array(
      z
        .string()
        .regex(
          /^(\*|https?:\/\/[^/\s]+)$/,
          "must be an origin such as https://app.example.org (scheme and host, no path), or '*'",
        ),
    )
    .default([]),
  logger: z.unknown().optional(),
});

const SESSION_TTL_SECONDS = 12 * 3600;

/** Whether an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const kind = net.isIP(host);
  if (kind === 4) return host.startsWith('127.');
  if (kind === 6) return host === '::1';
  return false;
}

/**
 * The HTTP API: submit jobs and get `202 Accepted` at once, then poll, long-poll (`?wait=30s`),
 * stream server-sent events, or receive a webhook. See docs/http-api.md.
 */
export class OffloadServer {
  readonly app: FastifyInstance;
  /** Accepted with every scope while this server runs; print it for whoever started it. */
  readonly sessionToken: string;
  readonly #options: z.output<typeof optionsSchema>;
  readonly #watcher: JobWatcher;
  readonly #metrics: ServerMetrics;
  readonly #ready: Promise<void>;
  readonly #sessions = new SessionStore({ ttlMs: SESSION_TTL_SECONDS * 1000 });
  readonly #session: SessionToken;
  readonly #api: ApiContext;
  #resuming: Promise<unknown> = Promise.resolve();
  #url: string | undefined;

  constructor(options: ServerOptions) {
    const parsed = parseOptions('createServer', optionsSchema, options);
    this.#options = parsed;
    if (parsed.authenticate === null && !isLoopback(parsed.host)) {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `createServer: refusing to serve ${parsed.host} without authentication; bind 127.0.0.1 or pass \`authenticate\``,
      );
    }
    const session = new SessionToken();
    this.#session = session;
    this.sessionToken = session.token;
    const stored: Authenticate = (token) => authenticateToken(parsed.store, token);
    const authenticate =
      parsed.authenticate === null ? null : session.authenticate(parsed.authenticate ?? stored);
    const logger = (options.logger ?? pino({ level: 'silent' })) as FastifyBaseLogger;
    this.app = Fastify({
      loggerInstance: logger,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: parsed.bodyLimit,
      forceCloseConnections: true,
      return503OnClosing: true,
    });
    this.#watcher = new JobWatcher(parsed.store);
    this.#metrics = new ServerMetrics(parsed.store, options.worker);
    const api: ApiContext = {
      store: parsed.store,
      queue: createQueue({ store: parsed.store, tasks: options.tasks ?? [] }),
      watcher: this.#watcher,
      tasks: options.tasks ?? [],
      maxWaitMs: parsed.maxWait,
      retryAfterSeconds: 1,
      dataDir: parsed.dataDir,
    };
    this.#api = api;
    this.#ready = this.#setUp(api, authenticate);
  }

  async #setUp(api: ApiContext, authenticate: Authenticate | null): Promise<void> {
    const app = this.app;
    app.removeContentTypeParser('text/plain');
    app.decorateRequest('principal', undefined);
    app.decorateRequest('authFailure', undefined);
    app.decorateRequest('session', undefined);
    app.addHook('onRequest', async (request) => identify(request, authenticate, this.#sessions));
    const origins = this.#options.corsOrigins;
    if (origins.length > 0) {
      await app.register(cors, {
        origin: origins.includes('*') ? '*' : origins,
        credentials: false,
        methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
        exposedHeaders: ['location', 'retry-after'],
        maxAge: 600,
      });
    }
    const limit = this.#options.rateLimit;
    if (limit) {
      await app.register(rateLimit, {
        max: limit.max,
        timeWindow: limit.windowMs,
        keyGenerator: (request) =>
          request.principal ? `token:${request.principal.id}` : `ip:${request.ip}`,
        errorResponseBuilder: (_request, context) =>
          new HttpProblem(
            429,
            'ERR_RATE_LIMITED',
            `too many requests: at most ${context.max} per ${context.after}; retry after the Retry-After header`,
            {
              headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
            },
          ),
      });
    }
    app.setErrorHandler((error, request, reply) => sendProblem(reply, request, error));
    app.setNotFoundHandler((request, reply) =>
      sendProblem(
        reply,
        request,
        new HttpProblem(
          404,
          'ERR_ROUTE_NOT_FOUND',
          `no endpoint ${request.method} ${request.url.split('?')[0]}; the API is described at /v1/openapi.json`,
        ),
      ),
    );
    const routes: RouteSpec[] = [
      ...bulkRoutes(api),
      ...jobRoutes(api),
      ...queueRoutes(api),
      ...limitsRoutes(api),
      ...sessionRoutes(this.#sessions, authenticate, SESSION_TTL_SECONDS),
    ];
    let document: Record<string, unknown> | undefined;
    const openApi = () => (document ??= buildOpenApi(routes, { version: packageVersion() }));
    routes.push(...systemRoutes(api, this.#metrics, openApi));
    registerRoutes(app, routes);
    registerDashboard(app, this.#sessions, SESSION_TTL_SECONDS);
  }

  /** A dashboard link that logs its first visitor in (with the session token's rights) and then stops working. */
  loginLink(): string {
    return `${this.url}/login?code=${this.#sessions.createLoginCode(this.#session.principal)}`;
  }

  /** The base URL once listening: `http://127.0.0.1:7070`. */
  get url(): string {
    if (!this.#url)
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        'the server is not listening yet; await server.listen() first',
      );
    return this.#url;
  }

  /**
   * Starts serving; resolves with the base URL. Refuses a non-loopback address while the store
   * holds no live token (unless `authenticate` was given), since only the session token would work.
   */
  async listen(): Promise<string> {
    await this.#ready;
    const { host, authenticate, store } = this.#options;
    if (
      !isLoopback(host) &&
      authenticate === undefined &&
      !(await listTokens(store)).some((token) => token.revokedAt === null)
    ) {
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `refusing to serve ${host}, reachable from other machines, while no API token exists: create one with \`offload token create --name <who> --scope jobs:write --scope jobs:read\`, or bind 127.0.0.1`,
      );
    }
    await this.app.listen({ host: this.#options.host, port: this.#options.port });
    const address = this.app.server.address() as net.AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `http://${shown}:${address.port}`;
    this.#resumeBulk();
    return this.#url;
  }

  /**
   * Bulk actions left running by a server that stopped or died resume here, each from its cursor
   * once its last runner's lease has run out (a live runner elsewhere keeps it).
   */
  #resumeBulk(): void {
    this.#resuming = this.#api.queue
      .resumeBulk()
      .catch((error: unknown) =>
        this.app.log.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'offload: could not resume bulk actions',
        ),
      );
  }

  /**
   * Stops taking requests, ends open streams and waits, then frees the port. Bulk actions it runs
   * stop after their current chunk and stay resumable. The store stays open.
   */
  async close(): Promise<void> {
    await this.#resuming;
    await this.#api.queue.stopBulk();
    this.#watcher.close();
    this.#metrics.close();
    await this.#ready.catch(() => {});
    await this.app.close();
  }
}

/** Creates the HTTP API over a store. See {@link ServerOptions}. */
export function createServer(options: ServerOptions): OffloadServer {
  return new OffloadServer(options);
}

let version: string | undefined;
function packageVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;
  return version;
}
