import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defineTask } from '../../src/task/define-task-node.ts';
import { verifyWebhook } from '../../src/webhooks/signature.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { waitFor } from '../helpers/temp.ts';

const SECRET = 'whsec_test_secret_0123456789';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real receiver on loopback: answers each path with the statuses queued for it, then 200. */
async function startReceiver(): Promise<{
  url: string;
  received: Received[];
  answers: Map<string, number[]>;
  close(): Promise<void>;
}> {
  const received: Received[] = [];
  const answers = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answers.get(path)?.shift() ?? 200;
      res
        .writeHead(status, { 'content-type': 'text/plain' })
        .end(status === 200 ? 'ok' : `answer ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answers,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const double = defineTask({
  name: 'double',
  run: async (payload: { n: number }) => ({ doubled: payload.n * 2 }),
});
const broken = defineTask({
  name: 'broken',
  attempts: 1,
  run: async () => {
    throw new Error('broken on purpose');
  },
});

describe('webhook delivery by the worker', () => {
  let h: Harness;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    h = await startHarness([double, broken], { webhookSecret: SECRET, webhookBackoff: 20 });
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  const deliveredTo = (path: string) => receiver.received.filter((r) => r.path === path);

  it('POSTs the outcome once, signed so that verifyWebhook accepts it', async () => {
    const job = await h.queue.enqueue(double, { n: 21 }, { callbackUrl: `${receiver.url}/ok` });
    const done = await h.finished(job.id);
    assert.equal(done.state, 'succeeded');
    await waitFor(async () => (await h.queue.getJob(job.id))?.webhookJobId != null, {
      what: 'the delivery job id',
    });
    const { webhookJobId } = (await h.queue.getJob(job.id))!;
    const delivery = await h.finished(webhookJobId!);
    assert.equal(delivery.state, 'succeeded');
    assert.equal(delivery.attempts, 1);
    assert.deepEqual(delivery.result, { status: 200, url: `${receiver.url}/ok` });
    const [hit, ...more] = deliveredTo('/ok');
    assert.ok(hit);
    assert.equal(more.length, 0, 'delivered once');
    assert.equal(hit.headers['content-type'], 'application/json');
    assert.equal(hit.headers['offload-webhook-id'], webhookJobId);
    assert.match(String(hit.headers['offload-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
    const body = verifyWebhook({
      secret: SECRET,
      body: hit.body,
      signature: hit.headers['offload-signature'] as string,
    });
    assert.deepEqual(body, {
      id: job.id,
      task: 'double',
      queue: 'default',
      state: 'succeeded',
      result: { doubled: 42 },
      error: null,
      attempts: 1,
      createdAt: done.createdAt,
      startedAt: done.startedAt,
      finishedAt: done.finishedAt,
    });
  });

  it('retries a receiver that answers 500 twice, and ends succeeded on the third attempt', async () => {
    receiver.answers.set('/flaky', [500, 500]);
    const job = await h.queue.enqueue(broken, {}, { callbackUrl: `${receiver.url}/flaky` });
    assert.equal((await h.finished(job.id)).state, 'failed');
    await waitFor(async () => (await h.queue.getJob(job.id))?.webhookJobId != null, {
      what: 'the delivery job id',
    });
    const delivery = await h.finished((await h.queue.getJob(job.id))!.webhookJobId!);
    assert.equal(delivery.state, 'succeeded');
    assert.equal(delivery.attempts, 3);
    const hits = deliveredTo('/flaky');
    assert.equal(hits.length, 3);
    assert.equal(
      new Set(hits.map((hit) => hit.headers['offload-webhook-id'])).size,
      1,
      'one delivery id across retries',
    );
    const body = verifyWebhook({
      secret: SECRET,
      body: hits[2]!.body,
      signature: hits[2]!.headers['offload-signature'] as string,
    });
    assert.equal(body.state, 'failed');
    assert.equal(body.error?.message, 'broken on purpose');
    assert.equal(
      (body.error as { stack?: string }).stack,
      undefined,
      'no stack trace leaves the machine',
    );
  });

  it('gives up after one attempt when the receiver answers 410', async () => {
    receiver.answers.set('/gone', [410]);
    const job = await h.queue.enqueue(double, { n: 1 }, { callbackUrl: `${receiver.url}/gone` });
    await h.finished(job.id);
    await waitFor(async () => (await h.queue.getJob(job.id))?.webhookJobId != null, {
      what: 'the delivery job id',
    });
    const delivery = await h.finished((await h.queue.getJob(job.id))!.webhookJobId!);
    assert.equal(delivery.state, 'failed');
    assert.equal(delivery.attempts, 1);
    assert.match(delivery.error?.message ?? '', /answered 410: answer 410/);
    assert.equal(deliveredTo('/gone').length, 1);
    await h.queue.retry(delivery.id);
    const redelivered = await h.finished(delivery.id);
    assert.equal(redelivered.state, 'succeeded', 'a delivery retried by hand is sent again');
    assert.equal(deliveredTo('/gone').length, 2);
  });

  it('delivers a cancellation, and retries when nothing listens', async () => {
    const job = await h.queue.enqueue(
      double,
      { n: 1 },
      { callbackUrl: `${receiver.url}/cancel`, delay: 60_000 },
    );
    const cancelled = await h.queue.cancel(job.id);
    assert.ok(cancelled.webhookJobId);
    await h.finished(cancelled.webhookJobId);
    const [hit] = deliveredTo('/cancel');
    assert.equal(JSON.parse(hit!.body).state, 'cancelled');

    const closed = await startReceiver();
    await closed.close();
    const lost = await h.queue.enqueue(double, { n: 1 }, { callbackUrl: `${closed.url}/nobody` });
    await h.finished(lost.id);
    await waitFor(
      async () => {
        const id = (await h.queue.getJob(lost.id))?.webhookJobId;
        return id != null && ((await h.queue.getJob(id))?.attempts ?? 0) >= 2;
      },
      { what: 'a second delivery attempt' },
    );
    const delivery = await h.queue.getJob((await h.queue.getJob(lost.id))!.webhookJobId!);
    assert.match(delivery?.error?.message ?? '', /ECONNREFUSED.*will retry/);
    await h.queue.cancel(delivery!.id);
  });
});
