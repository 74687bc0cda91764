import http from 'node:http';
import type net from 'node:net';
import { z } from 'zod';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { parseOptions } from '../core/options.ts';
import { ServerMetrics } from '../server/metrics.ts';
import type { Store } from '../store/contract.ts';
import type { Worker } from '../worker/worker.ts';

/** Options of {@link serveMetrics}. */
export interface MetricsServerOptions {
  /** The store whose queues are counted at each scrape (every replica reports the same). */
  store: Store;
  /** The worker of this process: its runs, run and wait times and pools appear, labelled with its id. */
  worker?: Worker;
  /** Port to listen on: 0 to 65535, 0 picks a free one. Required. */
  port: number;
  /** Address to listen on. Default `127.0.0.1`; the endpoint has no authentication. */
  host?: string;
}

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  /** The endpoint's address: `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Stops listening and drops the worker's and store's listeners. Safe to call twice. */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  store: z.custom<Store>(
    (value) => typeof (value as Store)?.queueList === 'function',
    'must be a store (createSqliteStore(), createPostgresStore())',
  ),
  worker: z
    .custom<Worker>(
      (value) => typeof (value as Worker)?.poolStats === 'function',
      'must be a worker (createWorker())',
    )
    .optional(),
  port: z
    .number({ error: 'must be a whole number from 0 to 65535 (0 picks a free port)' })
    .int('must be a whole number from 0 to 65535 (0 picks a free port)')
    .min(0, 'must be a whole number from 0 to 65535 (0 picks a free port)')
    .max(65535, 'must be a whole number from 0 to 65535 (0 picks a free port)'),
  host: z.string().min(1, 'must be an address such as "127.0.0.1"').default('127.0.0.1'),
});

/**
 * Serves `GET /metrics` (Prometheus text format) on its own port, without the HTTP API: what
 * `offload worker --metrics-port` runs. The metrics are those of the HTTP API's `/metrics`
 * (docs/observability.md). Resolves once listening; a bad option, or a port that is taken or
 * not ours to bind, rejects with `ERR_INVALID_OPTION` and leaves nothing open.
 */
export async function serveMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const { store, worker, port, host } = parseOptions('serveMetrics', optionsSchema, options);
  const metrics = new ServerMetrics(store, worker);
  const server = http.createServer((request, response) => {
    answer(metrics, request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(`offload: metrics could not be read: ${(error as Error)?.message}\n`);
    });
  });
  try {
    await listen(server, port, host);
  } catch (error) {
    metrics.close();
    throw error;
  }
  const address = server.address() as net.AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

async function answer(
  metrics: ServerMetrics,
  request: http.IncomingMessage,
  response: http.ServerResponse,
): Promise<void> {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  if (pathname !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('not found: metrics are at /metrics\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    response.end('method not allowed: use GET /metrics\n');
    return;
  }
  const { contentType, body } = await metrics.render();
  response.writeHead(200, { 'content-type': contentType });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, port, host));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string): OffloadError {
  const why =
    error.code === 'EADDRINUSE'
      ? `port ${port} on ${host} is in use; pick another port, or 0 for a free one`
      : error.code === 'EACCES'
        ? `this process may not listen on port ${port} (ports below 1024 need privileges); pick a port above 1023`
        : `${host}:${port} cannot be listened on (${error.code ?? error.message}); check the address`;
  return new OffloadError(ErrorCodes.INVALID_OPTION, `metrics server: ${why}`, {
    cause: error,
    details: {
      option: error.code === 'EADDRINUSE' || error.code === 'EACCES' ? 'port' : 'host',
      port,
      host,
    },
  });
}
