import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import type { TaskBenchResult } from '../../src/bench/task-bench.ts';

const run = promisify(execFile);
const tasks = path.resolve('test/fixtures/bench-tasks.ts');
const cli = (...args: string[]) =>
  run(
    process.execPath,
    [path.resolve('dist/cli/main.js'), 'bench', 'task', ...args, '--tasks', tasks, '--quick'],
    { timeout: 120_000 },
  ).catch((error: { code: number; stdout: string; stderr: string }) => error);

describe('offload bench task (built CLI)', () => {
  it('runs a task in all three modes and recommends one, with the reason', async () => {
    const { stdout } = (await cli('wait', '--payload', '{"ms":1}')) as { stdout: string };
    assert.match(stdout, /MODE\s+WORKERS\s+OVERHEAD\/JOB/);
    for (const mode of ['inline', 'thread', 'process'])
      assert.match(stdout, new RegExp(`^${mode}\\s+\\d`, 'm'));
    assert.match(
      stdout,
      /recommendation: mode: '(inline|thread)': a run holds the event loop for .*a thread round trip costs/,
    );
  });

  it('--json reports overhead, throughput and CPU time per mode', async () => {
    const { stdout } = (await cli('hash', '--payload', '{"rounds":200}', '--json')) as {
      stdout: string;
    };
    const result = JSON.parse(stdout) as TaskBenchResult;
    assert.deepEqual(
      result.modes.map((m) => m.mode),
      ['inline', 'thread', 'process'],
    );
    for (const m of result.modes) {
      assert.ok(
        m.throughput > 0 && m.cpuMsPerJob > 0 && m.latencyMs > 0 && m.overheadMs >= 0,
        `${m.mode}: ${JSON.stringify(m)}`,
      );
    }
    assert.ok(['inline', 'thread'].includes(result.recommendation.mode));
    assert.ok(result.recommendation.reason.length > 20);
  });

  it('an unknown task fails with the registered names and a non-zero exit', async () => {
    const failed = (await cli('hsah', '--payload', '{}')) as { code: number; stderr: string };
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      /no task named "hsah"; registered tasks: hash, wait \[ERR_TASK_NOT_FOUND\]/,
    );
  });

  it('a payload that fails the task schema names the field and exits non-zero', async () => {
    const failed = (await cli('hash', '--payload', '{"rounds":"many"}')) as {
      code: number;
      stderr: string;
    };
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      /payload for task "hash" does not match its schema: rounds: .* \[ERR_INVALID_PAYLOAD\]/,
    );
    const badJson = (await cli('hash', '--payload', '{rounds')) as { code: number; stderr: string };
    assert.notEqual(badJson.code, 0);
    assert.match(badJson.stderr, /--payload must be JSON/);
  });
});
