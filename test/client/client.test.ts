import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  createClient,
  OffloadClient,
  ProblemError,
  type ApiJob,
  type JobStreamEvent,
} from '../../src/client/index.ts';
import { ErrorCodes, OffloadError } from '../../src/core/errors.ts';
import type { JobView } from '../../src/server/job-view.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { greet, steps } from '../fixtures/api-tasks.ts';
import { startApi, type ApiHarness } from '../helpers/api.ts';

const boom = defineTask({
  name: 'boom',
  attempts: 1,
  run: async (): Promise<never> => {
    throw new Error('boom on purpose');
  },
});
const laned = defineTask({ name: 'laned', queue: 'client-lane', run: async () => 'ran' });

/** The client's job shape must keep up with what the server sends (checked by the compiler). */
const _serverViewFitsClientJob = (view: JobView): ApiJob => view;
void _serverViewFitsClientJob;

/** Type checks only, never run: payloads are typed by the task, by handle or by type parameter. */
async function _typeChecks(client: OffloadClient): Promise<void> {
  // @ts-expect-error a misspelt field is refused when the task type is given
  await client.enqueue<typeof greet>('greet', { nam: 'x' });
  // @ts-expect-error and when the handle is passed
  await client.enqueue(steps, { steps: '3', delayMs: 1 });
  await client.enqueue('greet', { anything: 'goes without a task type' });
  const job = await client.enqueue(steps, { steps: 1, delayMs: 1 });
  const done: number | undefined = (await client.waitForJob(job)).result?.done;
  // @ts-expect-error the result type follows the job
  const wrong: string | undefined = (await client.waitForJob(job)).result?.done;
  void [done, wrong];
}
void _typeChecks;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('offload/client against a real server and worker', () => {
  let api: ApiHarness;
  let client: OffloadClient;
  before(async () => {
    api = await startApi([greet, steps, boom, laned]);
    client = createClient({ url: api.url, token: api.token });
  });
  after(() => api.close());

  test('enqueue answers with the stored job; waitForJob returns it finished, typed by the task', async () => {
    const job = await client.enqueue(greet, { name: 'ada' });
    assert.match(job.id, /^[1-9][0-9]*$/);
    assert.equal(job.task, 'greet');
    assert.match(job.state, /^(queued|running|succeeded)$/);
    const done = await client.waitForJob(job, { timeoutMs: 10_000 });
    assert.equal(done.state, 'succeeded');
    const greeting: string | undefined = done.result?.greeting;
    assert.equal(greeting, 'hello, ada');
    assert.deepEqual(done.payload, { name: 'ada' });
  });

  test('enqueue by name with the task type, options reach the job, and getJob waits', async () => {
    const runAt = new Date(Date.now() + 60 * 60_000);
    const later = await client.enqueue<typeof greet>(
      'greet',
      { name: 'later' },
      { queue: 'client-later', priority: 5, runAt, attempts: 7, uniqueKey: 'client-later-1' },
    );
    assert.equal(later.state, 'scheduled');
    assert.equal(later.queue, 'client-later');
    assert.equal(later.priority, 5);
    assert.equal(later.maxAttempts, 7);
    assert.equal(later.runAt, runAt.toISOString());
    const again = await client.enqueue<typeof greet>(
      'greet',
      { name: 'later' },
      { uniqueKey: 'client-later-1' },
    );
    assert.equal(again.id, later.id, 'the unique key returns the waiting job');
    const delayed = await client.enqueue(greet, { name: 'd' }, { delay: '1h' });
    assert.equal(delayed.state, 'scheduled');
    const now = await client.enqueue(steps, { steps: 1, delayMs: 1 }, { timeout: '30s' });
    assert.equal(now.timeoutMs, 30_000);
    const finished = await client.getJob<typeof steps>(now.id, { wait: 10_000 });
    assert.equal(finished.state, 'succeeded');
    assert.deepEqual(finished.result, { done: 1 });
  });

  test('enqueueMany stores all jobs in one request', async () => {
    const jobs = await client.enqueueMany([
      { task: greet, payload: { name: 'a' } },
      { task: greet, payload: { name: 'b' }, options: { priority: 3 } },
    ]);
    assert.equal(jobs.length, 2);
    assert.equal(jobs[1]!.priority, 3);
    const done = await Promise.all(
      jobs.map((job) => client.waitForJob(job, { timeoutMs: 10_000 })),
    );
    assert.deepEqual(
      done.map((job) => job.result?.greeting),
      ['hello, a', 'hello, b'],
    );
  });

  test('events() yields state, progress in order, then end, and stops', async () => {
    const job = await client.enqueue(steps, { steps: 3, delayMs: 30 });
    const seen: Array<JobStreamEvent<{ steps: number; delayMs: number }, { done: number }>> = [];
    for await (const event of client.events<typeof steps>(job.id)) seen.push(event);
    assert.equal(seen[0]!.event, 'state');
    const last = seen.at(-1)!;
    assert.equal(last.event, 'end');
    assert.equal(last.event === 'end' && last.data.state, 'succeeded');
    assert.deepEqual(last.event === 'end' && last.data.result, { done: 3 });
    const progress = seen.flatMap((event) =>
      event.event === 'progress' ? [(event.data.progress as { step: number }).step] : [],
    );
    assert.ok(progress.length >= 1, `expected progress events, got ${JSON.stringify(seen)}`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
    );
  });

  test('events() of a finished job gives state and end at once', async () => {
    const job = await client.waitForJob(await client.enqueue(greet, { name: 'fin' }), {
      timeoutMs: 10_000,
    });
    const names: string[] = [];
    for await (const event of client.events(job.id)) names.push(event.event);
    assert.deepEqual(names, ['state', 'end']);
  });

  test('breaking out of events() closes the stream, and the job can be cancelled after', async () => {
    const job = await client.enqueue(steps, { steps: 200, delayMs: 20 });
    let count = 0;
    for await (const event of client.events(job.id)) {
      if (event.event === 'progress' && ++count === 2) break;
    }
    assert.equal(count, 2);
    const cancelled = await client.cancel(job.id);
    assert.equal(cancelled.state, 'cancelled');
  });

  test('an abort signal ends events() and waitForJob()', async () => {
    const job = await client.enqueue(steps, { steps: 200, delayMs: 20 });
    const controller = new AbortController();
    const reading = (async () => {
      for await (const event of client.events(job.id, { signal: controller.signal }))
        if (event.event === 'progress') controller.abort();
    })();
    const error = await rejection(reading);
    assert.equal((error as Error).name, 'AbortError');
    const waiting = client.waitForJob(job.id, { signal: AbortSignal.timeout(200) });
    assert.equal(((await rejection(waiting)) as Error).name, 'TimeoutError');
    await client.cancel(job.id);
  });

  test('waitForJob gives up with ERR_WAIT_TIMEOUT and the job as it stood', async () => {
    const job = await client.enqueue(greet, { name: 'never' }, { delay: '1h' });
    const error = await rejection(client.waitForJob(job, { timeoutMs: 300, pollMs: 100 }));
    assert.ok(error instanceof OffloadError);
    assert.equal(error.code, ErrorCodes.WAIT_TIMEOUT);
    assert.match(
      error.message,
      new RegExp(`job ${job.id} did not end within 300 ms \\(it is scheduled\\)`),
    );
    assert.equal((error.details.job as ApiJob).state, 'scheduled');
  });

  test('a failed job comes back failed with its error; retry queues it again', async () => {
    const failed = await client.waitForJob(await client.enqueue(boom, undefined as never), {
      timeoutMs: 10_000,
    });
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error?.message, 'boom on purpose');
    assert.equal(failed.error?.attempt, 1);
    const problem = await rejection(client.cancel(failed.id));
    assert.ok(problem instanceof ProblemError);
    assert.equal(problem.status, 409);
    assert.equal(problem.code, 'ERR_JOB_STATE');
    const retried = await client.retry(failed.id);
    assert.match(retried.state, /^(queued|running|failed)$/);
  });

  test('listJobs filters and pages with the cursor', async () => {
    for (let i = 0; i < 5; i++)
      await client.enqueue(greet, { name: `p${i}` }, { queue: 'client-paging', delay: '1h' });
    const first = await client.listJobs({ queue: 'client-paging', limit: 3 });
    assert.equal(first.jobs.length, 3);
    assert.ok(first.nextCursor);
    const second = await client.listJobs({
      queue: 'client-paging',
      state: 'scheduled',
      limit: 3,
      cursor: first.nextCursor,
    });
    assert.equal(second.jobs.length, 2);
    assert.equal(new Set([...first.jobs, ...second.jobs].map((job) => job.id)).size, 5);
  });

  test('queues: counts, pause and resume; tasks with their schemas; health', async () => {
    assert.deepEqual(await client.pause('client-lane'), { name: 'client-lane', paused: true });
    const job = await client.enqueue(laned, undefined);
    const queue = (await client.listQueues()).find((q) => q.name === 'client-lane');
    assert.equal(queue?.paused, true);
    assert.equal(queue?.counts.queued, 1);
    assert.equal((await client.getJob(job.id, { wait: '200ms' })).state, 'queued');
    assert.deepEqual(await client.resume('client-lane'), { name: 'client-lane', paused: false });
    assert.equal((await client.waitForJob(job, { timeoutMs: 10_000 })).result, 'ran');
    const task = (await client.listTasks()).find((t) => t.name === 'greet');
    assert.deepEqual((task?.payloadSchema as { required: string[] }).required, ['name']);
    assert.deepEqual(task?.example, { name: 'ada' });
    const health = await client.health();
    assert.equal(health.status, 'ok');
  });
});

describe('offload/client turns refusals into ProblemErrors', () => {
  let api: ApiHarness;
  before(async () => {
    api = await startApi([greet], { worker: false });
  });
  after(() => api.close());

  test('a payload failing the task schema: 422 with what to fix', async () => {
    const client = createClient({ url: api.url, token: api.token });
    // @ts-expect-error name must be a string
    const error = await rejection(client.enqueue(greet, { name: 42 }));
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 422);
    assert.equal(error.code, 'ERR_INVALID_PAYLOAD');
    assert.match(error.detail, /name/);
    assert.match(error.message, /^422 ERR_INVALID_PAYLOAD: /);
  });

  test('an invalid field: 400 naming the field', async () => {
    const client = createClient({ url: api.url, token: api.token });
    const error = await rejection(client.enqueue('greet', { name: 'a' }, { delay: 'soon' }));
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'ERR_INVALID_REQUEST');
    assert.deepEqual(
      error.errors.map((e) => e.field),
      ['body.delay'],
    );
  });

  test('an unknown task, an unknown job, a bad job id', async () => {
    const client = createClient({ url: api.url, token: api.token });
    const unknownTask = (await rejection(client.enqueue('nope', {}))) as ProblemError;
    assert.equal(unknownTask.status, 422);
    assert.match(unknownTask.detail, /no task named "nope"/);
    const unknownJob = (await rejection(client.getJob('999999'))) as ProblemError;
    assert.equal(unknownJob.status, 404);
    assert.equal(unknownJob.code, 'ERR_JOB_NOT_FOUND');
    const badId = (await rejection(client.getJob('../queues'))) as ProblemError;
    assert.equal(badId.status, 400);
    const badEvents = await rejection(client.events('999999').next());
    assert.equal((badEvents as ProblemError).status, 404);
  });

  test('no token or a wrong one: 401', async () => {
    for (const token of [undefined, 'off_wrong']) {
      const client = createClient({ url: api.url, ...(token ? { token } : {}) });
      const error = await rejection(client.listQueues());
      assert.ok(error instanceof ProblemError);
      assert.equal(error.status, 401);
    }
  });

  test('a url with a trailing slash works; an answer that is not a problem document still becomes a ProblemError', async () => {
    const client = createClient({ url: `${api.url}/`, token: api.token });
    assert.ok(Array.isArray(await client.listQueues()));
    const proxy = http.createServer((_request, response) =>
      response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'),
    );
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const html = createClient({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    const error = (await rejection(html.listQueues()).finally(() => proxy.close())) as ProblemError;
    assert.equal(error.status, 502);
    assert.equal(error.code, 'ERR_HTTP_502');
    assert.match(error.detail, /text\/html, not a problem document: <h1>Bad gateway<\/h1>/);
  });
});

describe('offload/client under a rate limit', () => {
  test('a 429 becomes a ProblemError with retryAfter', async () => {
    const api = await startApi([greet], { worker: false, rateLimit: { max: 1, windowMs: 60_000 } });
    try {
      const client = createClient({ url: api.url, token: api.token });
      await client.listQueues();
      const error = await rejection(client.listQueues());
      assert.ok(error instanceof ProblemError);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'ERR_RATE_LIMITED');
      assert.ok(error.retryAfter !== undefined && error.retryAfter > 0);
    } finally {
      await api.close();
    }
  });
});

describe('offload/client when the server goes away', () => {
  test('an event stream cut before its end rejects with ERR_BAD_RESPONSE', async () => {
    const api = await startApi([steps]);
    try {
      const client = createClient({ url: api.url, token: api.token });
      const job = await client.enqueue(steps, { steps: 200, delayMs: 20 });
      let progress = 0;
      const reading = (async () => {
        for await (const event of client.events(job.id))
          if (event.event === 'progress' && ++progress === 2) void api.server.close();
      })();
      const error = await rejection(reading);
      assert.ok(error instanceof OffloadError, String(error));
      assert.equal(error.code, ErrorCodes.BAD_RESPONSE);
      assert.match(
        error.message,
        new RegExp(`the event stream of job ${job.id} (closed|broke .*) before its end event`),
      );
    } finally {
      await api.close();
    }
  });
});

describe('offload/client options and unreachable servers', () => {
  test('bad options are refused with a did-you-mean', () => {
    assert.throws(
      () => createClient({ url: 'localhost:7070' }),
      /option `url` must be an absolute http/,
    );
    assert.throws(
      () => createClient({ url: 'http://127.0.0.1:7070', tokn: 'x' } as never),
      /unknown option `tokn`, did you mean `token`\?/,
    );
  });

  test('a server that is not there: ERR_SERVER_UNREACHABLE naming the url', async () => {
    const api = await startApi([greet], { worker: false });
    const url = api.url;
    await api.close();
    const error = await rejection(createClient({ url }).listQueues());
    assert.ok(error instanceof OffloadError);
    assert.equal(error.code, ErrorCodes.SERVER_UNREACHABLE);
    assert.match(
      error.message,
      new RegExp(`cannot reach the offload server at ${url.replaceAll('.', '\\.')}`),
    );
  });
});
