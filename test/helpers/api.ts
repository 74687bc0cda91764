import path from 'node:path';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Authenticate } from '../../src/server/auth.ts';
import { createServer, type OffloadServer } from '../../src/server/server.ts';
import type { Store } from '../../src/store/contract.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Task } from '../../src/task/task.ts';
import { createWorker, type Worker, type WorkerOptions } from '../../src/worker/worker.ts';
import { makeTempDir } from './temp.ts';

/** A real HTTP server on loopback over a real SQLite file, with an optional worker in the same process. */
export interface ApiHarness {
  url: string;
  token: string;
  store: Store;
  queue: Queue;
  server: OffloadServer;
  worker: Worker | undefined;
  /** fetch against the server with the session token (unless `headers.authorization` says otherwise). */
  call(
    method: string,
    route: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export const TEST_WEBHOOK_SECRET = 'whsec_test_secret_for_api_tests';

export async function startApi(
  tasks: Task[],
  options: {
    worker?: boolean;
    authenticate?: Authenticate | null;
    rateLimit?: { max: number; windowMs: number } | false;
    bodyLimit?: number;
    host?: string;
    dataDir?: string;
    corsOrigins?: string[];
    pools?: WorkerOptions['pools'];
    /** Another store to serve (closed by `close()` too). Default: a fresh SQLite file. */
    store?: Store;
  } = {},
): Promise<ApiHarness> {
  const { dir, cleanup } = makeTempDir('api');
  const store = options.store ?? createSqliteStore({ path: path.join(dir, 'jobs.db') });
  const worker =
    options.worker === false
      ? undefined
      : createWorker({
          store,
          tasks,
          pollInterval: 50,
          blockThreshold: 0,
          webhookSecret: TEST_WEBHOOK_SECRET,
          webhookBackoff: { delay: 50 },
          pools: options.pools,
        });
  await worker?.start();
  const server = createServer({
    store,
    tasks,
    worker,
    port: 0,
    host: options.host,
    dataDir: options.dataDir,
    corsOrigins: options.corsOrigins,
    authenticate: options.authenticate,
    rateLimit: options.rateLimit,
    bodyLimit: options.bodyLimit,
  });
  const url = await server.listen();
  const token = server.sessionToken;
  return {
    url,
    token,
    store,
    queue: createQueue({ store, tasks }),
    server,
    worker,
    async call(method, route, body, headers = {}) {
      const response = await fetch(url + route, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      if ((response.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
      return { status: response.status, headers: response.headers, body: parsed };
    },
    async close() {
      await server.close();
      await worker?.stop();
      await store.close();
      cleanup();
    },
  };
}
