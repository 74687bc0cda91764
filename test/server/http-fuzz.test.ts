import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';

const greet = defineTask({
  name: 'greet',
  schema: z.object({ name: z.string() }),
  run: async (payload: { name: string }) => payload.name,
});

let api: ApiHarness;

/** Sends one raw request and checks the contract: never a 5xx, and every 4xx is a problem document. */
async function probe(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<void> {
  const response = await fetch(api.url + path, {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
  });
  const text = await response.text();
  const context = `${method} ${path} ${JSON.stringify(headers)} ${body?.slice(0, 200)} → ${response.status} ${text.slice(0, 300)}`;
  assert.ok(response.status < 500, context);
  if (response.status >= 400 && method !== 'HEAD') {
    assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/, context);
    const problem = JSON.parse(text) as { status: number; detail: string };
    assert.equal(problem.status, response.status, context);
    assert.ok(problem.detail.length > 0, context);
    assert.ok(!text.includes('    at '), `a stack trace reached the client: ${context}`);
  }
}

const paths = fc.oneof(
  fc.constantFrom(
    '/v1/jobs',
    '/v1/jobs/batch',
    '/v1/queues',
    '/v1/tasks',
    '/v1/jobs/1',
    '/v1/jobs/1/events',
    '/v1/jobs/1/cancel',
    '/v1/jobs/1/retry',
    '/v1/queues/default/pause',
    '/v1/queues/default/limits',
    '/healthz',
    '/metrics',
  ),
  fc
    .tuple(fc.constantFrom('/v1/jobs/', '/v1/queues/', '/v1/'), fc.string({ maxLength: 40 }))
    .map(([prefix, rest]) => prefix + encodeURIComponent(rest)),
  fc
    .tuple(
      fc.constantFrom('/v1/jobs?', '/v1/jobs/1?'),
      fc.dictionary(
        fc.constantFrom('queue', 'state', 'task', 'limit', 'cursor', 'wait', 'x', ''),
        fc.string({ maxLength: 30 }),
      ),
    )
    .map(([prefix, query]) => prefix + new URLSearchParams(query).toString()),
);

const jobLike = fc.record(
  {
    task: fc.oneof(fc.constant('greet'), fc.string({ maxLength: 20 }), fc.integer()),
    payload: fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ name: fc.oneof(fc.string(), fc.integer()) }),
    ),
    queue: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
    priority: fc.oneof(fc.integer(), fc.double(), fc.string()),
    delay: fc.oneof(fc.integer({ min: -10, max: 1e12 }), fc.string({ maxLength: 10 }), fc.double()),
    runAt: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string({ maxLength: 30 }),
      fc.integer(),
    ),
    attempts: fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.string()),
    uniqueKey: fc.oneof(fc.string({ maxLength: 600 }), fc.integer()),
    callbackUrl: fc.oneof(fc.webUrl(), fc.string({ maxLength: 50 })),
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

const rateLike = fc.record(
  {
    limit: fc.oneof(fc.integer({ min: -5, max: 20_000 }), fc.double(), fc.string({ maxLength: 5 })),
    per: fc.oneof(fc.integer({ min: -5, max: 1e12 }), fc.string({ maxLength: 10 }), fc.double()),
  },
  { requiredKeys: [] },
);
const limitsLike = fc.record(
  {
    concurrency: fc.oneof(fc.integer({ min: -5, max: 2_000_000 }), fc.double(), fc.string()),
    keyConcurrency: fc.oneof(fc.integer({ min: -5, max: 10 }), fc.constant(null)),
    keyOverrides: fc.dictionary(fc.string({ maxLength: 600 }), fc.oneof(fc.integer(), fc.string())),
    rate: rateLike,
    keyRate: rateLike,
    order: fc.oneof(fc.constant('strict'), fc.string({ maxLength: 10 })),
  },
  { requiredKeys: [] },
);

const bodies = fc.oneof(
  jobLike.map((job) => JSON.stringify(job)),
  limitsLike.map((limits) => JSON.stringify(limits)),
  fc.array(jobLike, { maxLength: 5 }).map((jobs) => JSON.stringify({ jobs })),
  fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '',
    '{',
    '{"task":',
    'null',
    '[]',
    '"x"',
    '{"__proto__":{"admin":true},"task":"greet"}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
);

const headerSets = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      'garbage',
      '',
    ),
    authorization: fc.oneof(
      fc.constant(''),
      fc.constant('Bearer nope'),
      fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    ),
    'idempotency-key': fc.string({ maxLength: 300 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  },
  { requiredKeys: [] },
);

const stores: Array<
  [string, () => Promise<{ store: Store | undefined; cleanup: () => Promise<void> }>]
> = [
  ['SQLite', async () => ({ store: undefined, cleanup: async () => {} })],
  [
    'PostgreSQL',
    async () => {
      await requirePostgres();
      const schema = uniqueSchema('fuzz');
      return {
        store: await createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 }),
        cleanup: () => dropSchema(schema),
      };
    },
  ],
];

for (const [label, open] of stores) {
  describe(`HTTP fuzz on ${label}`, () => {
    let cleanup: () => Promise<void> = async () => {};
    before(async () => {
      const opened = await open();
      cleanup = opened.cleanup;
      api = await startApi([greet], { worker: false, bodyLimit: 256 * 1024, store: opened.store });
    });
    after(async () => {
      await api.close();
      await cleanup();
    });

    test('random requests never get a 5xx, and every refusal is a problem document', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
          paths,
          headerSets,
          bodies,
          fc.boolean(),
          async (method, path, headers, body, withToken) => {
            const sent = { ...headers };
            if (withToken) sent.authorization = `Bearer ${api.token}`;
            await probe(method, path, sent, body);
          },
        ),
        { numRuns: 400 },
      );
    });

    test('huge, deeply nested and oversized bodies are refused cleanly, and the server keeps serving', async () => {
      const auth = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' };
      const deep = (n: number) => `{"task":"greet","payload":${'['.repeat(n)}${']'.repeat(n)}}`;
      for (const body of [
        deep(300),
        deep(10_000),
        deep(100_000),
        JSON.stringify({ task: 'greet', payload: { name: 'x'.repeat(300_000) } }),
        '{"task":"greet","payload":{"name":"' + 'é'.repeat(50_000) + '"}}',
      ]) {
        await probe('POST', '/v1/jobs', auth, body);
      }
      const wide = JSON.stringify({
        task: 'greet',
        payload: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])),
      });
      await probe('POST', '/v1/jobs', auth, wide);
      const health = await fetch(`${api.url}/healthz`);
      assert.equal(health.status, 200);
    });

    test('a job field beyond its range is a 400 naming it, on this store as on the other, never a 500', async () => {
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ priority: 2 ** 31 }, 'body.priority', /from -1000000 to 1000000/],
        [{ priority: 1_000_001 }, 'body.priority', /from -1000000 to 1000000/],
        [{ attempts: 2 ** 31 }, 'body.attempts', /from 1 to 1000/],
        [{ timeout: 2 ** 31 }, 'body.timeout', /at most 2147483647 ms \(about 24\.8 days\)/],
        [{ timeout: '25d' }, 'body.timeout', /at most 2147483647 ms/],
        [{ delay: 3_155_760_000_001 }, 'body.delay', /at most 3155760000000 ms \(100 years\)/],
        [{ runAt: 253_402_300_800_000 }, 'body.runAt', /9999-12-31/],
        [{ runAt: '9999-12-31T23:59:59.999-01:00' }, 'body.runAt', /9999-12-31/],
        [
          { uniqueKey: 'user\u00007' },
          'body.uniqueKey',
          /must not contain the NUL character U\+0000/,
        ],
        [
          { callbackUrl: 'https://example.com/a\u0000b' },
          'body.callbackUrl',
          /must not contain the NUL character U\+0000/,
        ],
      ];
      for (const [fields, field, words] of cases) {
        const response = await api.call('POST', '/v1/jobs', {
          task: 'greet',
          payload: { name: 'x' },
          ...fields,
        });
        const context = `${JSON.stringify(fields)} → ${response.status} ${JSON.stringify(response.body)}`;
        assert.equal(response.status, 400, context);
        assert.equal(response.body.code, 'ERR_INVALID_REQUEST', context);
        const error = (response.body.errors as Array<{ field: string; message: string }>).find(
          (e) => e.field === field,
        );
        assert.ok(error, context);
        assert.match(error.message, words, context);
        const batch = await api.call('POST', '/v1/jobs/batch', {
          jobs: [{ task: 'greet', payload: { name: 'x' }, ...fields }],
        });
        assert.equal(batch.status, 400, `batch: ${JSON.stringify(batch.body)}`);
        assert.ok(
          (batch.body.errors as Array<{ field: string }>).some(
            (e) => e.field === field.replace('body.', 'body.jobs.0.'),
          ),
          JSON.stringify(batch.body),
        );
      }
      const filter = await api.call('GET', '/v1/jobs?task=greet%00');
      assert.equal(filter.status, 400, JSON.stringify(filter.body));
      assert.equal(filter.body.errors[0].field, 'query.task');
    });

    test('a job 30 days ahead, and one at the edges of every range, are accepted with what was asked', async () => {
      const before = Date.now();
      const month = await api.call('POST', '/v1/jobs', {
        task: 'greet',
        payload: { name: 'later' },
        delay: '720h',
      });
      assert.equal(month.status, 202, JSON.stringify(month.body));
      assert.equal(month.body.state, 'scheduled');
      const runAt = Date.parse(month.body.runAt as string);
      assert.ok(
        runAt >= before + 30 * 86_400_000 && runAt <= Date.now() + 30 * 86_400_000,
        month.body.runAt as string,
      );
      const edges = await api.call('POST', '/v1/jobs', {
        task: 'greet',
        payload: { name: 'edge' },
        priority: -1_000_000,
        attempts: 1_000,
        timeout: 2 ** 31 - 1,
        runAt: '9999-12-31T23:59:59.999Z',
      });
      assert.equal(edges.status, 202, JSON.stringify(edges.body));
      const job = await api.queue.getJob(edges.body.id as string);
      assert.deepEqual(
        [job?.priority, job?.maxAttempts, job?.timeoutMs, job?.runAt],
        [-1_000_000, 1_000, 2 ** 31 - 1, 253_402_300_799_999],
      );
      await api.queue.cancel(month.body.id as string);
      await api.queue.cancel(edges.body.id as string);
    });

    test('the fuzzing left no job half-written: every stored job reads back whole', async () => {
      const page = await api.queue.listJobs({ limit: 1000 });
      for (const job of page.jobs) {
        assert.equal(job.task, 'greet');
        assert.equal(typeof (job.payload as { name: unknown }).name, 'string');
      }
    });
  });
}
