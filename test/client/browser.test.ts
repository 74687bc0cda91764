import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi } from '../helpers/api.ts';
import { launchChromium } from '../../tools/chromium.ts';

const clientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/client');

const steps = defineTask({
  name: 'steps',
  run: async (payload: { steps: number }, ctx) => {
    for (let i = 1; i <= payload.steps; i++) {
      await sleep(100, undefined, { signal: ctx.signal });
      ctx.progress(i);
    }
    return { done: payload.steps };
  },
});

/** What the page does with the client; it posts what it saw back to the page's server. */
const SCENARIO = `
import { createClient, ProblemError } from './index.ts';
const { url, token } = JSON.parse(document.getElementById('config').textContent);
const report = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
try {
  const client = createClient({ url, token });
  // Ten steps of 100 ms: the stream connects (a CORS preflight first) well before the job ends, even on a busy machine.
  const job = await client.enqueue('steps', { steps: 10 });
  const events = [];
  for await (const event of client.events(job.id)) events.push(event.event);
  const done = await client.waitForJob(job, { timeoutMs: 10000 });
  let problem;
  try { await client.enqueue('nope', {}); } catch (error) { problem = { isProblem: error instanceof ProblemError, status: error.status, code: error.code }; }
  await report({ ok: true, state: done.state, result: done.result, events, problem, userAgent: navigator.userAgent });
} catch (error) {
  await report({ ok: false, error: String(error && error.stack || error) });
}
`;

test('the client bundles for browsers with no Node built-ins', async () => {
  const bundle = await build({
    entryPoints: [path.join(clientDir, 'index.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const code = bundle.outputFiles[0]!.text;
  assert.ok(code.includes('createClient'));
  assert.doesNotMatch(code, /from ["']node:|require\(["']node:/);
  assert.ok(
    code.length < 40_000,
    `the browser bundle is ${code.length} bytes; it should stay small (no zod or other heavy dependency)`,
  );
});

test(
  'in real Chromium, from another origin through CORS: enqueue, stream events, wait for the end, and get a ProblemError',
  { timeout: 120_000 },
  async () => {
    const bundle = await build({
      stdin: { contents: SCENARIO, resolveDir: clientDir, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    let page = '';
    let resolveResult: (value: Record<string, unknown>) => void = () => {};
    const result = new Promise<Record<string, unknown>>((resolve) => (resolveResult = resolve));
    const site = http.createServer((request, response) => {
      if (request.method === 'POST' && request.url === '/result') {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          response.end();
          resolveResult(JSON.parse(body) as Record<string, unknown>);
        });
        return;
      }
      response
        .writeHead(request.url === '/' ? 200 : 404, { 'content-type': 'text/html' })
        .end(request.url === '/' ? page : '');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    const api = await startApi([steps], { corsOrigins: [origin] });
    page = `<!doctype html><title>client</title><script type="application/json" id="config">${JSON.stringify({ url: api.url, token: api.token })}</script><script type="module">${bundle.outputFiles[0]!.text}</script>`;
    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      await tab.goto(`${origin}/`);
      const outcome = await result;
      assert.equal(outcome.ok, true, String(outcome.error));
      assert.match(String(outcome.userAgent), /Chrome/);
      assert.equal(outcome.state, 'succeeded');
      assert.deepEqual(outcome.result, { done: 10 });
      assert.equal((outcome.events as string[])[0], 'state');
      assert.ok((outcome.events as string[]).includes('progress'));
      assert.equal((outcome.events as string[]).at(-1), 'end');
      assert.deepEqual(outcome.problem, {
        isProblem: true,
        status: 422,
        code: 'ERR_TASK_NOT_FOUND',
      });
    } finally {
      await browser.close();
      await api.close();
      site.close();
    }
  },
);
