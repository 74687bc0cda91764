/** A static file server on loopback for the browser examples and tests (node:http, no framework). */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** Headers that make a page cross-origin isolated (`crossOriginIsolated`, SharedArrayBuffer). */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the files under `root` on 127.0.0.1 (an ephemeral port unless `port` is given). `headers`
 * chooses extra headers per request path (for cross-origin isolation, say).
 */
export async function serveStatic(
  root: string,
  options: { port?: number; headers?: (pathname: string) => Record<string, string> } = {},
): Promise<StaticServer> {
  const server = http.createServer(async (request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const file = path.join(root, pathname.endsWith('/') ? `${pathname}index.html` : pathname);
    const body = file.startsWith(root) ? await fs.readFile(file).catch(() => undefined) : undefined;
    const headers = { 'cache-control': 'no-store', ...options.headers?.(pathname) };
    if (!body)
      return void response
        .writeHead(404, { ...headers, 'content-type': 'text/plain' })
        .end('not found');
    response
      .writeHead(200, {
        ...headers,
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
