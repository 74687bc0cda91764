import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createQueue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { testStores } from '../helpers/stores.ts';
import { waitFor } from '../helpers/temp.ts';

const RETRY_AFTER_S = 1;
const PER_KEY = 6;

/**
 * A remote API that answers 429 with Retry-After once for tenant `a` and 200 otherwise. The task
 * that calls it says `ctx.rateLimited`; two workers on their own store connections must then start
 * nothing of `a` until the retry time, while `b` keeps running.
 */
describe('flow control: a remote 429 holds the key on every worker', () => {
  for (const factory of testStores) {
    it(`${factory.name}: no start of the held key on any worker before Retry-After, others run`, async () => {
      const calls: Array<{ key: string; at: number; status: number }> = [];
      let limited = false;
      const server = http.createServer((request, response) => {
        const key = new URL(request.url!, 'http://x').searchParams.get('key')!;
        const status = key === 'a' && !limited ? 429 : 200;
        if (status === 429) limited = true;
        calls.push({ key, at: Date.now(), status });
        response.writeHead(status, status === 429 ? { 'retry-after': String(RETRY_AFTER_S) } : {});
        response.end(status === 429 ? 'slow down' : 'ok');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const callApi = defineTask({
        name: 'call-api',
        queue: 'remote',
        concurrency: { limit: 2, key: (payload: { tenant: string }) => payload.tenant },
        run: async ({ tenant }: { tenant: string }, ctx) => {
          const answer = await fetch(`${url}?key=${tenant}`, { signal: ctx.signal });
          await answer.text();
          if (answer.status === 429)
            ctx.rateLimited(Number(answer.headers.get('retry-after')) * 1000);
          await new Promise((resolve) => setTimeout(resolve, 20));
          return { status: answer.status };
        },
      });
      const made = await factory.make('flow-429');
      const stores: Store[] = [];
      const workers: Worker[] = [];
      try {
        for (let i = 0; i < 3; i++) stores.push(await made.open());
        for (const store of stores.slice(1)) {
          const worker = createWorker({
            store,
            tasks: [callApi],
            concurrency: 4,
            pollInterval: 200,
          });
          workers.push(worker);
          await worker.start();
        }
        const queue = createQueue({ store: stores[0]!, tasks: [callApi] });
        const jobs = [];
        for (let i = 0; i < PER_KEY; i++)
          for (const tenant of ['a', 'b']) jobs.push(await queue.enqueue(callApi, { tenant }));
        await waitFor(
          async () => (await stores[0]!.jobCount({ queue: 'remote' })).succeeded === jobs.length,
          { intervalMs: 50, timeoutMs: 30_000, what: 'every job to succeed' },
        );
        const hit = calls.find((call) => call.status === 429);
        assert.ok(hit, 'the API answered 429 once');
        const until = hit.at + RETRY_AFTER_S * 1000;
        // The hold begins when the rateLimited outcome commits, a few ms after the 429 reached the
        // task (a run of `a` may start in between, as one that had started may still call): no run
        // of `a` starts from 100 ms after the 429 until Retry-After.
        const from = hit.at + 100;
        const read = await Promise.all(jobs.map((job) => stores[0]!.jobGet({ id: job.id })));
        const startedInHold = read.filter(
          (job) =>
            job!.payload &&
            (job!.payload as { tenant: string }).tenant === 'a' &&
            job!.startedAt! >= from &&
            job!.startedAt! < until,
        );
        assert.deepEqual(
          startedInHold.map((job) => `${job!.id}@${job!.startedAt}`),
          [],
          `no run of the held key started before Retry-After (${until}), on any worker`,
        );
        const bInHold = read.filter(
          (job) =>
            (job!.payload as { tenant: string }).tenant === 'b' &&
            job!.startedAt! >= hit.at &&
            job!.startedAt! < until,
        );
        const bAfter = calls.filter((call) => call.key === 'b' && call.at > hit.at).length;
        assert.ok(bInHold.length > 0 || bAfter === 0, 'b kept running while a was held');
        assert.equal(
          calls.filter((call) => call.key === 'a' && call.status === 200).length,
          PER_KEY,
        );
        const ranOn = new Set(read.map((job) => job!.leaseOwner ?? job!.placement ?? ''));
        assert.ok(ranOn.size >= 1);
        for (const job of jobs) {
          const read = await stores[0]!.jobGet({ id: job.id });
          assert.equal(read?.state, 'succeeded');
          assert.equal(read?.attempts, 1, 'a rate-limited run spends no attempt');
        }
      } finally {
        await Promise.all(workers.map((worker) => worker.stop()));
        await Promise.all(stores.map((store) => store.close()));
        await made.destroy();
        server.close();
      }
    });
  }
});
