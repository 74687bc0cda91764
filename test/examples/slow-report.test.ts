import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startApp, type App } from '../../examples/slow-report/app.ts';
import { runLoad } from '../../examples/slow-report/load.ts';
import { buildReport } from '../../examples/slow-report/report.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

// The example imports 'offload' like a user's app does, so it runs on the built package (npm test builds first).
const ROUNDS = 20_000;
let app: App;
const temp = makeTempDir('slow-report');

before(async () => {
  app = await startApp({ database: path.join(temp.dir, 'jobs.db'), port: 0, rounds: ROUNDS });
});
after(async () => {
  await app.close();
  temp.cleanup();
});

test('POST /report answers 202 with the job address, and a worker thread builds the same report', async () => {
  const response = await fetch(`${app.url}/report`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customer: 'globex' }),
  });
  assert.equal(response.status, 202);
  const accepted = (await response.json()) as { id: string; url: string };
  assert.equal(response.headers.get('location'), accepted.url);
  let job: { state: string; result: unknown; error: string | null } = {
    state: 'queued',
    result: null,
    error: null,
  };
  await waitFor(
    async () => {
      job = (await (await fetch(`${app.url}${accepted.url}`)).json()) as typeof job;
      return !['queued', 'running', 'scheduled'].includes(job.state);
    },
    { timeoutMs: 60_000, intervalMs: 50, what: 'the report job to end' },
  );
  assert.equal(job.state, 'succeeded', String(job.error));
  assert.deepEqual(job.result, buildReport({ customer: 'globex', rounds: ROUNDS }));
});

test('the inline endpoint answers with the report in the request', async () => {
  const response = await fetch(`${app.url}/report/inline?customer=initech`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), buildReport({ customer: 'initech', rounds: ROUNDS }));
});

test('a short load: every offloaded request gets a 202 and every job succeeds', async () => {
  const report = await runLoad({ url: app.url, rate: 5, seconds: 1, timeoutMs: 30_000 }, 60_000);
  assert.deepEqual(report.offloaded.requests.statuses, { 202: 5 });
  assert.equal(report.offloaded.jobIds.length, 5);
  assert.equal(report.offloaded.succeeded, 5);
  assert.deepEqual(report.inline.requests.statuses, { 200: 5 });
  assert.equal(report.offloaded.health.timedOut, 0);
});
