import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/core/clock.ts';
import { BULK_LEASE_MS } from '../../src/queue/bulk-runner.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { failJobs } from '../helpers/failed-jobs.ts';
import { testStores, type TestStoreFactory } from '../helpers/stores.ts';

/** POST /v1/jobs/bulk (202 and a progress resource), GET /v1/jobs/bulk/{id}, GET /v1/dead-letters, on each store. */
for (const kind of testStores) {
  describe(`HTTP API: bulk actions and dead letters (${kind.name})`, () => {
    let factory: TestStoreFactory;
    let api: ApiHarness;
    /** A second server on the same store, as another replica. */
    let replica: ApiHarness;
    before(async () => {
      factory = await kind.make('http-bulk');
      api = await startApi([], { worker: false, store: await factory.open() });
      replica = await startApi([], { worker: false, store: await factory.open() });
    });
    after(async () => {
      await replica?.close();
      await api?.close();
      await factory?.destroy();
    });

    /** Follows a progress link on the replica until the action has ended. */
    const follow = async (location: string) => {
      for (let i = 0; i < 500; i++) {
        const got = await replica.call('GET', location);
        assert.equal(got.status, 200, JSON.stringify(got.body));
        if (got.body.state !== 'running') return got.body;
        assert.equal(got.headers.get('retry-after'), '1');
        await sleep(20);
      }
      throw new Error(`${location} never ended`);
    };

    test('POST answers 202 with Location; the progress resource reaches done on any replica', async () => {
      await failJobs(api.store, { n: 2300, task: 'sync' });
      const posted = await api.call('POST', '/v1/jobs/bulk', {
        action: 'retry',
        filter: { task: 'sync', state: 'failed', errorCode: 'E_DOWN' },
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      const location = posted.headers.get('location');
      assert.equal(location, `/v1/jobs/bulk/${posted.body.id}`);
      assert.equal(posted.body.links.self, location);
      assert.equal(posted.body.action, 'retry');
      assert.equal(posted.body.matched, 2300);
      assert.ok(['running', 'done'].includes(posted.body.state));
      const end = await follow(location!);
      assert.equal(end.state, 'done');
      assert.equal(end.done, 2300);
      assert.equal(end.skipped, 0);
      assert.match(end.finishedAt, /^\d{4}-\d\d-\d\dT/);
      const counts = await api.queue.countJobs({ task: 'sync' });
      assert.equal(counts.queued, 2300);
      assert.equal(counts.failed, 0);
    });

    test('a filter that matches everything is refused with 422 unless all is true', async () => {
      await failJobs(api.store, { n: 3, task: 'everything' });
      const before = await api.queue.countJobs({});
      const refused = await api.call('POST', '/v1/jobs/bulk', { action: 'delete' });
      assert.equal(refused.status, 422);
      assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(refused.body.code, 'ERR_BULK_FILTER_EMPTY');
      assert.match(refused.body.detail, /all: true/);
      assert.deepEqual(await api.queue.countJobs({}), before, 'nothing changed');
      const all = await api.call('POST', '/v1/jobs/bulk', { action: 'retry', all: true });
      assert.equal(all.status, 202);
      assert.ok((await follow(all.headers.get('location')!)).done >= 3);
    });

    test('bad bodies and ids answer problem documents with the right status', async () => {
      const cases: Array<[unknown, number, string]> = [
        [{ action: 'retyr', filter: { task: 'x' } }, 400, 'ERR_INVALID_REQUEST'],
        [{ action: 'retry', filter: { task: 'x', tag: '' } }, 400, 'ERR_INVALID_REQUEST'],
        [{ action: 'retry', filter: { task: 'x', tag: 'a\u0007b' } }, 400, 'ERR_INVALID_REQUEST'],
        [{ action: 'retry', filter: { state: 'queued' } }, 400, 'ERR_INVALID_OPTION'],
        [{ action: 'cancel', filter: { olderThan: 'soon' } }, 400, 'ERR_INVALID_REQUEST'],
        [{ action: 'cancel', filter: { createdBefore: 'yesterday' } }, 400, 'ERR_INVALID_REQUEST'],
        ['not json', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
      ];
      for (const [body, status, code] of cases) {
        const answer = await api.call('POST', '/v1/jobs/bulk', body);
        assert.equal(
          answer.status,
          status,
          `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`,
        );
        assert.equal(answer.body.code, code, JSON.stringify(answer.body));
      }
      const missing = await api.call('GET', '/v1/jobs/bulk/987654');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'ERR_BULK_NOT_FOUND');
      const bad = await api.call('GET', '/v1/jobs/bulk/abc');
      assert.equal(bad.status, 400);
      const badQuery = await api.call('GET', '/v1/dead-letters?limit=0');
      assert.equal(badQuery.status, 400);
    });

    test('cancel by queue and age over HTTP cancels only what has not ended', async () => {
      const old = (
        await api.store.jobEnqueueMany(
          Array.from({ length: 5 }, () => ({
            task: 'cleanup',
            queue: 'cleanup',
            payload: '{}',
            priority: 0,
            runAt: Date.now() + 60_000,
            maxAttempts: 1,
            timeoutMs: 0,
            uniqueKey: null,
            idempotencyKey: null,
            callbackUrl: null,
          })),
        )
      ).map((r) => r.job);
      await failJobs(api.store, { n: 2, task: 'cleanup' });
      const posted = await api.call('POST', '/v1/jobs/bulk', {
        action: 'cancel',
        filter: { queue: 'cleanup', createdBefore: new Date(Date.now() + 1000).toISOString() },
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      const end = await follow(posted.headers.get('location')!);
      assert.equal(end.done, 5);
      for (const job of old) assert.equal((await api.queue.getJob(job.id))?.state, 'cancelled');
      assert.equal((await api.queue.countJobs({ queue: 'cleanup' })).failed, 2);
    });

    test('GET /v1/dead-letters groups failures; a bulk retry of a group redrives it', async () => {
      await failJobs(api.store, {
        n: 4,
        task: 'mail',
        error: { name: 'Error', message: 'SMTP 421', code: 'E_SMTP' },
      });
      await failJobs(api.store, {
        n: 2,
        task: 'mail',
        error: { name: 'Error', message: 'bad address' },
      });
      const got = await api.call('GET', '/v1/dead-letters?task=mail');
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.deepEqual(
        got.body.groups.map(
          (g: { errorCode: string | null; errorMessage: string; count: number }) => [
            g.errorCode,
            g.errorMessage,
            g.count,
          ],
        ),
        [
          ['E_SMTP', 'SMTP 421', 4],
          [null, 'bad address', 2],
        ],
      );
      assert.match(got.body.groups[0].firstSeen, /^\d{4}-/);
      const redrive = await api.call('POST', '/v1/jobs/bulk', {
        action: 'retry',
        filter: got.body.groups[1].filter,
      });
      assert.equal(redrive.status, 202, JSON.stringify(redrive.body));
      assert.equal((await follow(redrive.headers.get('location')!)).done, 2);
      const after = await api.call('GET', '/v1/dead-letters?task=mail');
      assert.deepEqual(
        after.body.groups.map((g: { errorCode: string | null }) => g.errorCode),
        ['E_SMTP'],
      );
    });

    test('a server that stops mid-way leaves the action running; the next server resumes it', async () => {
      const clock = new ManualClock(Date.now());
      const first = await startApi([], { worker: false, store: await factory.open({ clock }) });
      await failJobs(first.store, { n: 20_000, task: 'resumed', chunk: 5000 });
      const posted = await first.call('POST', '/v1/jobs/bulk', {
        action: 'retry',
        filter: { task: 'resumed' },
      });
      assert.equal(posted.status, 202);
      await first.close();
      const left = (await replica.call('GET', posted.headers.get('location')!)).body;
      assert.equal(left.state, 'running');
      assert.ok(left.done < 20_000, `the first server stopped after ${left.done}`);

      // The stopped runner's lease runs out; a server started then takes the action up.
      clock.advance(BULK_LEASE_MS + 1);
      const second = await startApi([], { worker: false, store: await factory.open({ clock }) });
      try {
        let end = left;
        for (let i = 0; i < 1000 && end.state === 'running'; i++) {
          await sleep(20);
          end = (await second.call('GET', posted.headers.get('location')!)).body;
        }
        assert.equal(end.state, 'done');
        assert.equal(end.done, 20_000);
        assert.equal((await second.queue.countJobs({ task: 'resumed' })).queued, 20_000);
      } finally {
        await second.close();
      }
    });

    test('the OpenAPI document describes the new endpoints', async () => {
      const doc = (await api.call('GET', '/v1/openapi.json')).body;
      assert.ok(doc.paths['/v1/jobs/bulk'].post.responses['202']);
      assert.ok(doc.paths['/v1/jobs/bulk/{id}'].get);
      assert.ok(doc.paths['/v1/dead-letters'].get);
    });
  });
}
