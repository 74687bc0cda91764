import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { makeTempDir } from './helpers/temp.ts';

const run = promisify(execFile);
const temp = makeTempDir('cli');
after(() => temp.cleanup());
const db = path.join(temp.dir, 'cli.db');
const tasks = path.resolve('examples/quickstart/tasks.ts');
const cli = (...args: string[]) =>
  run(process.execPath, [path.resolve('dist/cli/main.js'), '--db', db, ...args]).catch(
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

describe('offload CLI (built dist)', () => {
  it('enqueues, lists and shows jobs, as tables and JSON', async () => {
    const added = (await cli(
      'enqueue',
      'hello',
      '--tasks',
      tasks,
      '--payload',
      '{"name":"ada"}',
      '--json',
    )) as { stdout: string };
    const job = JSON.parse(added.stdout) as { id: string; state: string };
    assert.equal(job.state, 'queued');
    const list = (await cli('jobs')) as { stdout: string };
    assert.match(list.stdout, /hello\s+queued/);
    const shown = (await cli('job', job.id)) as { stdout: string };
    assert.match(shown.stdout, /payload\s+\{"name":"ada"\}/);
  });

  it("enqueues with a flow key: --key, else the task's key function; `job` shows it", async () => {
    const flowTasks = path.resolve('test/fixtures/flow-tasks.ts');
    const enqueue = async (...args: string[]) =>
      JSON.parse(
        (
          (await cli('enqueue', 'flow-keyed', '--tasks', flowTasks, '--json', ...args)) as {
            stdout: string;
          }
        ).stdout,
      ) as { id: string; key: string | null };
    const derived = await enqueue('--payload', '{"account":"acme"}');
    assert.equal(derived.key, 'acme');
    assert.equal((await enqueue('--payload', '{"account":"acme"}', '--key', 'vip')).key, 'vip');
    const shown = (await cli('job', derived.id)) as { stdout: string };
    assert.match(shown.stdout, /key\s+acme/);
    const keyless = (await cli('enqueue', 'flow-keyed', '--tasks', flowTasks)) as {
      code: number;
      stderr: string;
    };
    assert.equal(keyless.code, 1);
    assert.match(
      keyless.stderr,
      /task "flow-keyed": its key function returned undefined.*\[ERR_INVALID_KEY\]/,
    );
  });

  it('explains bad flags and unknown tasks without a stack trace', async () => {
    const badJson = (await cli('enqueue', 'hello', '--payload', '{oops')) as {
      code: number;
      stderr: string;
    };
    assert.equal(badJson.code, 1);
    assert.match(badJson.stderr, /--payload must be JSON/);
    const unknown = (await cli('enqueue', 'nope', '--tasks', tasks)) as {
      code: number;
      stderr: string;
    };
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no task named "nope".*\[ERR_TASK_NOT_FOUND\]/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /);
    const typo = (await cli('jbos')) as { code: number; stderr: string };
    assert.match(typo.stderr, /Did you mean jobs\?/);
    const state = (await cli('jobs', '--state', 'faild')) as { code: number; stderr: string };
    assert.match(state.stderr, /did you mean "failed"/);
  });
});

describe('offload enqueue: number flags (built dist)', () => {
  it('refuses priority, attempts and delay beyond their ranges, naming the flag and the range', async () => {
    for (const [flag, value, words] of [
      [
        '--priority',
        '1000001',
        /--priority takes a whole number from -1000000 to 1000000, got "1000001"/,
      ],
      ['--priority', '-2147483649', /--priority takes a whole number from -1000000 to 1000000/],
      [
        '--attempts',
        '2147483648',
        /--attempts takes a whole number from 1 to 1000, got "2147483648"/,
      ],
      ['--delay', '3155760000001', /--delay takes a whole number from 0 to 3155760000000/],
    ] as const) {
      const refused = (await cli('enqueue', 'hello', '--tasks', tasks, flag, value)) as {
        code: number;
        stderr: string;
      };
      assert.equal(refused.code, 1, `${flag} ${value}`);
      assert.match(refused.stderr, words);
    }
  });

  it('takes the edges, and schedules a job 30 days ahead', async () => {
    const month = 30 * 86_400_000;
    const before = Date.now();
    const added = (await cli(
      'enqueue',
      'hello',
      '--tasks',
      tasks,
      '--priority',
      '-1000000',
      '--attempts',
      '1000',
      '--delay',
      String(month),
      '--json',
    )) as { stdout: string; stderr: string };
    const job = JSON.parse(added.stdout) as {
      state: string;
      priority: number;
      maxAttempts: number;
      runAt: number;
    };
    assert.deepEqual([job.state, job.priority, job.maxAttempts], ['scheduled', -1_000_000, 1_000]);
    assert.ok(job.runAt >= before + month && job.runAt <= Date.now() + month, String(job.runAt));
  });
});

describe('offload start (built dist)', () => {
  it('serves the HTTP API beside a worker: a job posted with the printed token runs, and SIGTERM stops it cleanly', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [
        path.resolve('dist/cli/main.js'),
        'start',
        '--db',
        path.join(temp.dir, 'start.db'),
        '--tasks',
        tasks,
        '--port',
        '0',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (
        !/session token.*?(off_session_[\w-]+)/.test(output) ||
        !/HTTP API on (http:\/\/[\d.:]+)/.test(output)
      ) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`offload start did not print its URL and token:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const url = /HTTP API on (http:\/\/[\d.:]+)/.exec(output)![1]!;
      const token = /(off_session_[\w-]+)/.exec(output)![1]!;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const created = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ task: 'hello', payload: { name: 'http' } }),
      });
      assert.equal(created.status, 202);
      const location = created.headers.get('location')!;
      const job = (await (await fetch(`${url}${location}?wait=15s`, { headers })).json()) as {
        state: string;
        result: unknown;
      };
      assert.equal(job.state, 'succeeded');
      assert.deepEqual(job.result, { greeting: 'hello, http' });
      assert.equal((await fetch(`${url}/v1/jobs`)).status, 401);
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise((resolve) =>
        child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
      );
      assert.equal(code, 0, output);
    }
  });
});
