import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { RETRY_DELAY_MS } from './fixtures/job-log-tasks.ts';
import { cliStores } from './helpers/cli-stores.ts';
import { within } from './helpers/temp.ts';

const run = promisify(execFile);
type Output = { code?: number; stdout: string; stderr: string };
const main = path.resolve('dist/cli/main.js');
const tasks = path.resolve('test/fixtures/job-log-tasks.ts');

/**
 * `--log-format` of the built CLI, against both stores: `offload worker` runs a success and a
 * retry, and its stderr (not a terminal here) is JSON lines by default and with `json`, readable
 * lines with `pretty`.
 */
for (const { name, setUp } of cliStores('cli_log_format')) {
  describe(`offload worker --log-format (built dist, ${name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, [main, '--db', db, ...args], { env: { ...process.env, ...env } }).then(
        (output) => ({ code: 0, ...output }),
        (error: Output) => error,
      ) as Promise<Output>;
    const enqueue = async (task: string, ...args: string[]) => {
      const out = await cli(['enqueue', task, '--tasks', tasks, '--json', ...args]);
      assert.equal(out.code, 0, out.stderr);
      return (JSON.parse(out.stdout) as { id: string }).id;
    };
    /** Runs `offload worker` until the runs of `ids` are logged, then stops it with SIGTERM; its stderr. */
    const workerOutput = async (flags: string[], ids: string[]) => {
      const child = spawn(
        process.execPath,
        [main, '--db', db, ...flags, 'worker', '--tasks', tasks],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exit = new Promise((resolve) => child.once('exit', resolve));
      const logged = (id: string) =>
        new RegExp(`job ${id} log-[\\w-]+ (succeeded|failed)`).test(stderr);
      try {
        await within(
          (async () => {
            while (!ids.every(logged)) {
              if (child.exitCode !== null) throw new Error(`worker exited:\n${stderr}`);
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })(),
          30_000,
          `the worker's lines for ${ids.join(', ')}:\n${stderr}`,
        );
      } finally {
        child.kill('SIGTERM');
        assert.equal(await exit, 0, stderr);
      }
      return stderr;
    };
    before(async () => ({ db, tearDown } = await setUp()));
    after(async () => tearDown?.());

    for (const flags of [['--log-format', 'json'], []]) {
      it(`${flags.length ? '--log-format json' : 'by default, off a terminal'}: one JSON object a line, with the job's fields`, async () => {
        const ok = await enqueue('log-ok-inline', '--payload', '{"word":"a"}');
        const retried = await enqueue(
          'log-fail-inline',
          '--payload',
          '{"word":"b"}',
          '--attempts',
          '2',
        );
        const stderr = await workerOutput(flags, [ok, retried]);
        const lines = stderr
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        const okEnd = lines.find((line) => line.job === ok && 'durationMs' in line);
        assert.deepEqual(
          [okEnd?.task, okEnd?.queue, okEnd?.attempt, okEnd?.level],
          ['log-ok-inline', 'default', 1, 30],
        );
        assert.ok(lines.some((line) => line.job === ok && line.msg === 'working'));
        const retry = lines.find((line) => line.job === retried)!;
        assert.equal(retry.retryInMs, RETRY_DELAY_MS);
        assert.match(String(retry.retryAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.match(
          String(retry.msg),
          new RegExp(`retry in ${RETRY_DELAY_MS} ms at ${retry.retryAt}$`),
        );
        assert.deepEqual((retry.error as { code?: string }).code, 'E_NO_WORD');
      });
    }

    it('--log-format pretty: readable lines, uncoloured off a terminal, with the fields on the line', async () => {
      const ok = await enqueue('log-ok-inline', '--payload', '{"word":"c"}');
      const retried = await enqueue(
        'log-fail-inline',
        '--payload',
        '{"word":"d"}',
        '--attempts',
        '2',
      );
      const stderr = await workerOutput(['--log-format', 'pretty'], [ok, retried]);
      assert.ok(!stderr.includes('\u001b['), 'no colour codes');
      assert.throws(() => JSON.parse(stderr.split('\n')[0]!));
      const okLine = stderr
        .split('\n')
        .find((line) => line.includes(`job ${ok} log-ok-inline succeeded`));
      assert.match(
        String(okLine),
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: job \d+ log-ok-inline succeeded in \d+ ms /,
      );
      assert.match(String(okLine), /"queue":"default"/);
      assert.match(String(okLine), /"attempt":1/);
      assert.match(
        stderr,
        new RegExp(
          `job ${retried} log-fail-inline failed after \\d+ ms \\(attempt 1 of 2\\): RangeError: no d \\[E_NO_WORD\\]; retry in ${RETRY_DELAY_MS} ms at \\d{4}-`,
        ),
      );
    });
  });
}

describe('offload --log-format, a bad value', () => {
  it('is refused, naming the two formats, from the flag and from OFFLOAD_LOG_FORMAT', async () => {
    const flag = (await run(process.execPath, [main, '--log-format', 'xml', 'jobs']).catch(
      (error: Output) => error,
    )) as Output;
    assert.equal(flag.code, 1);
    assert.match(flag.stderr, /--log-format takes pretty or json, got "xml"/);
    const env = (await run(process.execPath, [main, 'worker'], {
      env: { ...process.env, OFFLOAD_LOG_FORMAT: 'yaml' },
    }).catch((error: Output) => error)) as Output;
    assert.equal(env.code, 1);
    assert.match(env.stderr, /logFormat/);
    assert.match(env.stderr, /pretty/);
    assert.match(env.stderr, /json/);
    assert.match(env.stderr, /\[ERR_/);
  });
});
