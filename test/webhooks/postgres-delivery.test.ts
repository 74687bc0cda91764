import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createQueue } from '../../src/queue/queue.ts';
import {
  createPostgresStore,
  type PostgresStore,
} from '../../src/store/postgres/postgres-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { getWebhookSecret } from '../../src/webhooks/secret.ts';
import { verifyWebhook } from '../../src/webhooks/signature.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

const double = defineTask({ name: 'double', run: async (payload: { n: number }) => payload.n * 2 });
const idle = defineTask({ name: 'idle', run: async () => null });

describe('webhook delivery across PostgreSQL store instances', () => {
  const schema = uniqueSchema('hooks');
  const bodies: Array<{ body: string; signature: string }> = [];
  let server: http.Server;
  let url: string;
  let stores: PostgresStore[];
  let workers: Worker[];

  before(async () => {
    await requirePostgres();
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        bodies.push({ body, signature: String(req.headers['offload-signature']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    // Long polls: the delivery worker must be woken by the other instance's announcement.
    stores = await Promise.all(
      [1, 2].map(() =>
        createPostgresStore({
          connectionString: TEST_PG_URL,
          schema,
          poolSize: 2,
          pollInterval: 60_000,
        }),
      ),
    );
    const secret = await getWebhookSecret(stores[0]!);
    workers = [
      createWorker({ store: stores[0]!, tasks: [double], pollInterval: 60_000, blockThreshold: 0 }),
      createWorker({
        store: stores[1]!,
        tasks: [idle],
        pollInterval: 60_000,
        blockThreshold: 0,
        webhookSecret: await getWebhookSecret(stores[1]!),
      }),
    ];
    assert.equal(
      secret,
      await getWebhookSecret(stores[1]!),
      'both instances share the stored secret',
    );
    for (const worker of workers) await worker.start();
  });

  after(async () => {
    for (const worker of workers ?? []) await worker.stop();
    for (const store of stores ?? []) await store.close();
    await new Promise((resolve) => server?.close(resolve));
    await dropSchema(schema);
  });

  it('a job finished on one instance is delivered by a worker on another, signed with the shared secret', async () => {
    const queue = createQueue({ store: stores[0]!, tasks: [double] });
    const { job, created } = await queue.enqueueWithResult(
      double,
      { n: 4 },
      { callbackUrl: url, idempotencyKey: 'pg-1' },
    );
    assert.equal(created, true);
    await waitFor(() => bodies.length > 0, { what: 'the webhook to arrive' });
    const secret = await getWebhookSecret(stores[0]!);
    const outcome = verifyWebhook({
      secret,
      body: bodies[0]!.body,
      signature: bodies[0]!.signature,
    });
    assert.deepEqual([outcome.id, outcome.state, outcome.result], [job.id, 'succeeded', 8]);
    const ended = await queue.getJob(job.id);
    await waitFor(async () => (await queue.getJob(ended!.webhookJobId!))?.state === 'succeeded', {
      what: 'the delivery job to succeed',
    });
    assert.equal(
      (await queue.enqueueWithResult(double, { n: 4 }, { idempotencyKey: 'pg-1' })).created,
      false,
    );
  });
});
