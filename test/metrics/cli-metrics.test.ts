import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { cliStores } from '../helpers/cli-stores.ts';
import { exited } from '../helpers/processes.ts';

const run = promisify(execFile);
type Output = { code: number; stdout: string; stderr: string };
const main = path.resolve('dist/cli/main.js');
const tasks = path.resolve('examples/quickstart/tasks.ts');

/** A running `offload` process and everything it printed so far. */
interface Running {
  child: ChildProcess;
  output(): string;
}

function startCli(args: string[]): Running {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/** Resolves with the first match of `pattern` in the process's output. */
async function printed(running: Running, pattern: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = pattern.exec(running.output());
    if (match) return match;
    if (Date.now() > deadline || running.child.exitCode !== null)
      throw new Error(`offload did not print ${pattern}:\n${running.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stop(running: Running): Promise<void> {
  if (running.child.exitCode === null) running.child.kill('SIGTERM');
  assert.equal(await exited(running.child), 0, running.output());
}

/** `promtool check metrics` over `text`; fails, never skips, when promtool is missing. */
function promtoolCheck(text: string): void {
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if ((checked.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    assert.fail(
      "promtool is missing: install Debian's prometheus package (apt-get install -y -q prometheus), as .ci/run does",
    );
  assert.equal(
    checked.status,
    0,
    `promtool check metrics: ${checked.stdout}${checked.stderr}\n---\n${text}`,
  );
  assert.equal(`${checked.stdout}${checked.stderr}`.trim(), '', 'promtool reported problems');
}

for (const store of cliStores('cli-metrics')) {
  describe(`/metrics of offload start and offload worker --metrics-port pass promtool (built dist, ${store.name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    let server: Running;
    let worker: Running;

    before(async () => {
      ({ db, tearDown } = await store.setUp());
      server = startCli(['start', '--db', db, '--tasks', tasks, '--port', '0']);
      await printed(server, /HTTP API on http:/);
      worker = startCli(['worker', '--db', db, '--tasks', tasks, '--metrics-port', '0']);
      await printed(worker, /offload worker: data in/);
    });
    after(async () => {
      await Promise.all([server, worker].filter(Boolean).map(stop));
      await tearDown();
    });

    it('both endpoints pass `promtool check metrics` and count the same jobs from the store', async () => {
      const url = (await printed(server, /HTTP API on (http:\/\/[\d.:]+)/))[1]!;
      const token = (await printed(server, /(off_session_[\w-]+)/))[1]!;
      const metricsUrl = (
        await printed(worker, /Prometheus endpoint on (http:\/\/[\d.:]+\/metrics)/)
      )[1]!;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      for (const name of ['ada', 'grace', 'edsger']) {
        const created = await fetch(`${url}/v1/jobs`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ task: 'hello', payload: { name } }),
        });
        assert.equal(created.status, 202);
        const job = (await (
          await fetch(`${url}${created.headers.get('location')!}?wait=15s`, { headers })
        ).json()) as { state: string };
        assert.equal(job.state, 'succeeded');
      }
      const fromApi = await fetch(`${url}/metrics`, { headers });
      assert.equal(fromApi.status, 200);
      const fromWorker = await fetch(metricsUrl);
      assert.equal(fromWorker.status, 200);
      const texts = [await fromApi.text(), await fromWorker.text()];
      for (const text of texts) {
        promtoolCheck(text);
        assert.match(text, /^offload_jobs\{queue="default",state="succeeded"\} 3$/m);
        assert.match(text, /^offload_worker_running_jobs\{worker="[^"]+"\} 0$/m);
        assert.match(text, /^# TYPE offload_worker_jobs_total counter$/m);
      }
    });
  });
}

describe('offload worker refuses a bad --metrics-port before it claims anything (built dist)', () => {
  let db: string;
  let tearDown: () => Promise<void>;
  before(async () => ({ db, tearDown } = await cliStores('cli-metrics-bad')[0]!.setUp()));
  after(() => tearDown());

  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [main, '--db', db, ...args], {
      env: { ...process.env, ...env },
    }).then(
      (output) => ({ code: 0, ...output }),
      (error: Output) => error,
    ) as Promise<Output>;

  it('a port out of range or not a number, as a flag or in OFFLOAD_METRICS_PORT; a host that is none', async () => {
    for (const value of ['65536', '-1', 'abc']) {
      const refused = await cli(['worker', '--tasks', tasks, '--metrics-port', value]);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /--metrics-port takes a whole number from 0 to 65535, got "(65536|-1|abc)"/,
      );
    }
    const badHost = await cli([
      'worker',
      '--tasks',
      tasks,
      '--metrics-port',
      '0',
      '--metrics-host',
      'nonexistent.invalid',
    ]);
    assert.equal(badHost.code, 1);
    assert.match(
      badHost.stderr,
      /metrics server: nonexistent\.invalid:0 cannot be listened on .*\[ERR_INVALID_OPTION\]/,
    );
    const fromEnv = await cli(['worker', '--tasks', tasks], { OFFLOAD_METRICS_PORT: '70000' });
    assert.equal(fromEnv.code, 1);
    assert.match(
      fromEnv.stderr,
      /option `metricsPort` must be at most 65535.*\[ERR_INVALID_OPTION\]/,
    );
  });

  it('a port in use: exit code 1 with the port named, and a waiting job stays queued', async () => {
    const added = await cli([
      'enqueue',
      'hello',
      '--tasks',
      tasks,
      '--payload',
      '{"name":"x"}',
      '--json',
    ]);
    const job = JSON.parse(added.stdout) as { id: string };
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const refused = await cli(['worker', '--tasks', tasks, '--metrics-port', String(port)]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(`metrics server: port ${port} on 127.0.0.1 is in use.*\\[ERR_INVALID_OPTION\\]`),
      );
      assert.doesNotMatch(refused.stdout + refused.stderr, /worker started/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const shown = JSON.parse((await cli(['job', job.id, '--json'])).stdout) as { state: string };
    assert.equal(shown.state, 'queued');
  });
});
