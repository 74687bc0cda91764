import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { EnqueueParams } from '../../src/store/contract.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import {
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  terminateConnections,
  uniqueSchema,
} from '../helpers/postgres.ts';

/** Found by the chaos suite: a connection cut inside an enqueue transaction ended the whole process. */
describe('postgres store: connections cut in the middle of transactions', () => {
  let schema: string;
  let store: PostgresStore;
  before(async () => {
    await requirePostgres();
    schema = uniqueSchema('cut');
    store = await createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 });
  });
  after(async () => {
    await store.close();
    await dropSchema(schema);
  });

  it(
    'fails the cut transactions, keeps the process alive, and commits each batch all or none',
    { timeout: 60_000 },
    async () => {
      const batch = (b: number): EnqueueParams[] =>
        Array.from({ length: 50 }, (_, n) => ({
          task: 'work',
          queue: 'default',
          payload: '{}',
          priority: 0,
          runAt: Date.now(),
          maxAttempts: 3,
          timeoutMs: 0,
          uniqueKey: null,
          idempotencyKey: `cut-${b}-${n}`,
          callbackUrl: null,
        }));
      let cut = 0;
      let failed = 0;
      let committed = 0;
      for (let round = 0; round < 8; round++) {
        const writes = Array.from({ length: 4 }, (_, k) =>
          store.jobEnqueueMany(batch(round * 4 + k)).then(
            () => committed++,
            () => failed++,
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 5 + round * 3));
        cut += await terminateConnections(schema);
        await Promise.all(writes);
      }
      assert.ok(cut > 0, 'connections were cut');
      assert.ok(failed > 0, 'some transactions were cut short');
      const counts = await store.jobCount({});
      assert.equal(
        counts.queued % 50,
        0,
        `each batch committed whole or not at all (${counts.queued} jobs)`,
      );
      assert.equal(counts.queued, committed * 50);
      await store.jobEnqueueMany(batch(1000));
      assert.equal(
        (await store.jobCount({})).queued,
        (committed + 1) * 50,
        'the store works after the cuts',
      );
    },
  );

  it(
    'survives a kill that arrives in the same read as the hand-off of a connection to a waiting transaction',
    { timeout: 60_000 },
    async () => {
      const proxy = await coalescingProxy(new URL(TEST_PG_URL));
      const proxied = new URL(TEST_PG_URL);
      proxied.host = `127.0.0.1:${proxy.port}`;
      const coalesced = await createPostgresStore({
        connectionString: proxied.toString(),
        schema,
        poolSize: 1,
        listen: false,
      });
      try {
        let failed = 0;
        for (let round = 0; round < 20; round++) {
          const writes = Array.from({ length: 6 }, (_, k) =>
            coalesced
              .jobEnqueueMany([
                {
                  task: 'work',
                  queue: 'coalesced',
                  payload: '{}',
                  priority: 0,
                  runAt: Date.now(),
                  maxAttempts: 1,
                  timeoutMs: 0,
                  uniqueKey: null,
                  idempotencyKey: `co-${round}-${k}`,
                  callbackUrl: null,
                },
              ])
              .catch(() => failed++),
          );
          await new Promise((resolve) => setTimeout(resolve, 2 + (round % 5)));
          await terminateConnections(schema);
          await Promise.all(writes);
        }
        assert.ok(failed > 0, 'some transactions were cut short');
        const before = (await coalesced.jobCount({ queue: 'coalesced' })).queued;
        await coalesced.jobEnqueueMany([
          {
            task: 'work',
            queue: 'coalesced',
            payload: '{}',
            priority: 0,
            runAt: Date.now(),
            maxAttempts: 1,
            timeoutMs: 0,
            uniqueKey: null,
            idempotencyKey: 'co-after',
            callbackUrl: null,
          },
        ]);
        assert.equal(
          (await coalesced.jobCount({ queue: 'coalesced' })).queued,
          before + 1,
          'the store works after the cuts',
        );
      } finally {
        await coalesced.close();
        await proxy.close();
      }
    },
  );
});

/**
 * A TCP proxy to PostgreSQL that holds the server's bytes for a few milliseconds and passes them on
 * in one write, so a ReadyForQuery and the error of a killed backend reach the client in one read.
 */
async function coalescingProxy(target: URL): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      if (held.length > 0 && !client.destroyed) client.write(Buffer.concat(held));
      held = [];
    };
    upstream.on('data', (chunk: Buffer) => {
      held.push(chunk);
      timer ??= setTimeout(flush, 4);
    });
    upstream.on('end', () => {
      clearTimeout(timer);
      flush();
      client.end();
    });
    client.pipe(upstream);
    const destroy = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroy).on('close', destroy);
    upstream.on('error', destroy);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
