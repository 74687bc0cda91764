import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { OffloadError } from '../../src/core/errors.ts';
import { serveMetrics, type MetricsServer } from '../../src/metrics/index.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

const echo = defineTask({ name: 'metrics-echo', run: (payload: { n: number }) => payload.n });

/** The lines of one metric family, sorted, without comments. */
const series = (text: string, name: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .sort();

const countRuns = (texts: string[]) =>
  texts
    .flatMap((text) => series(text, 'offload_worker_jobs_total'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);

const scrape = async (server: MetricsServer) => {
  const response = await fetch(server.url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
};

for (const kind of testStores) {
  describe(`serveMetrics on ${kind.name}: two workers on one store`, () => {
    let factory: TestStoreFactory;
    const stores: Store[] = [];
    const workers: Worker[] = [];
    const servers: MetricsServer[] = [];
    let queue: Queue;

    before(async () => {
      factory = await kind.make('metrics-two-workers');
      for (let i = 0; i < 2; i++) {
        const store = await factory.open();
        const worker = createWorker({
          store,
          tasks: [echo],
          id: `metrics-worker-${i}`,
          logger: pino({ level: 'silent' }),
        });
        stores.push(store);
        workers.push(worker);
        servers.push(await serveMetrics({ store, worker, port: 0 }));
        await worker.start();
      }
      queue = createQueue({ store: stores[0]!, tasks: [echo] });
    });
    after(async () => {
      for (const server of servers) await server.close();
      for (const worker of workers) await worker.stop();
      for (const store of stores) await store.close();
      await factory.destroy();
    });

    it('reports the same jobs per queue and state from either worker, read from the store', async () => {
      for (let n = 0; n < 3; n++) await queue.wait(await queue.enqueue(echo, { n }));
      for (let n = 0; n < 4; n++) await queue.enqueue(echo, { n }, { delay: 3_600_000 });
      await queue.pause('held');
      for (let n = 0; n < 2; n++) await queue.enqueue(echo, { n }, { queue: 'held' });

      const [first, second] = await Promise.all(servers.map(scrape));
      const depth = series(first!, 'offload_jobs');
      assert.deepEqual(series(second!, 'offload_jobs'), depth);
      assert.ok(
        depth.includes('offload_jobs{queue="default",state="succeeded"} 3'),
        depth.join('\n'),
      );
      assert.ok(
        depth.includes('offload_jobs{queue="default",state="scheduled"} 4'),
        depth.join('\n'),
      );
      assert.ok(depth.includes('offload_jobs{queue="held",state="queued"} 2'), depth.join('\n'));
    });

    it("labels each worker's own runs and gauges with its id, so both can be scraped side by side", async () => {
      // A run is counted at the worker's job:end, which may come just after queue.wait saw the outcome.
      const deadline = Date.now() + 10_000;
      let texts = await Promise.all(servers.map(scrape));
      while (countRuns(texts) < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        texts = await Promise.all(servers.map(scrape));
      }
      for (const [i, text] of texts.entries()) {
        const own = `worker="metrics-worker-${i}"`;
        const other = `worker="metrics-worker-${1 - i}"`;
        assert.ok(!text.includes(other), text);
        assert.ok(
          series(text, 'offload_worker_running_jobs').includes(
            `offload_worker_running_jobs{${own}} 0`,
          ),
          text,
        );
        for (const line of series(text, 'offload_worker_jobs_total')) {
          assert.match(line, new RegExp(`outcome="succeeded"`));
          assert.ok(line.includes(own), line);
        }
        for (const line of series(text, 'offload_job_run_seconds_count'))
          assert.ok(line.includes(own), line);
      }
      assert.equal(countRuns(texts), 3, 'the three runs, each counted by the worker that ran it');
    });

    it('answers 404 off /metrics and 405 to other methods', async () => {
      const base = new URL(servers[0]!.url);
      assert.equal((await fetch(new URL('/v1/jobs', base))).status, 404);
      const post = await fetch(base, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
    });
  });
}

describe('serveMetrics refuses bad input and leaves nothing listening', () => {
  let factory: TestStoreFactory;
  let store: Store;
  before(async () => {
    factory = await testStores[0]!.make('metrics-bad-input');
    store = await factory.open();
  });
  after(async () => {
    await store.close();
    await factory.destroy();
  });

  const refuses = async (options: unknown, message: RegExp) => {
    await assert.rejects(
      serveMetrics(options as Parameters<typeof serveMetrics>[0]),
      (error: unknown) =>
        error instanceof OffloadError &&
        error.code === 'ERR_INVALID_OPTION' &&
        message.test(error.message),
    );
  };

  it('a port out of range, not whole, or missing; a store or worker that is none; an unknown option', async () => {
    await refuses({ store, port: 65536 }, /option `port` must be a whole number from 0 to 65535/);
    await refuses({ store, port: -1 }, /option `port` must be a whole number from 0 to 65535/);
    await refuses({ store, port: 1.5 }, /option `port` must be a whole number/);
    await refuses({ store }, /option `port` must be a whole number/);
    await refuses({ store: {}, port: 0 }, /option `store` must be a store/);
    await refuses({ store, worker: {}, port: 0 }, /option `worker` must be a worker/);
    await refuses({ store, prot: 0 }, /unknown option `prot`, did you mean `port`\?/);
  });

  it('a port in use, with the port in the message; an endpoint closes, twice without harm', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      await refuses({ store, port }, new RegExp(`port ${port} on 127.0.0.1 is in use`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const server = await serveMetrics({ store, port: 0 });
    await server.close();
    await server.close();
    await assert.rejects(fetch(server.url));
  });
});
