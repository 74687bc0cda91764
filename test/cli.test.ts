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
const cli = (...args: string[]) => run(process.execPath, [path.resolve('dist/cli/main.js'), '--db', db, ...args]).catch((error: { code: number; stdout: string; stderr: string }) => error);

describe('offload CLI (built dist)', () => {
  it('enqueues, lists and shows jobs, as tables and JSON', async () => {
    const added = (await cli('enqueue', 'hello', '--tasks', tasks, '--payload', '{"name":"ada"}', '--json')) as { stdout: string };
    const job = JSON.parse(added.stdout) as { id: string; state: string };
    assert.equal(job.state, 'queued');
    const list = (await cli('jobs')) as { stdout: string };
    assert.match(list.stdout, /hello\s+queued/);
    const shown = (await cli('job', job.id)) as { stdout: string };
    assert.match(shown.stdout, /payload\s+\{"name":"ada"\}/);
  });

  it('explains bad flags and unknown tasks without a stack trace', async () => {
    const badJson = (await cli('enqueue', 'hello', '--payload', '{oops')) as { code: number; stderr: string };
    assert.equal(badJson.code, 1);
    assert.match(badJson.stderr, /--payload must be JSON/);
    const unknown = (await cli('enqueue', 'nope', '--tasks', tasks)) as { code: number; stderr: string };
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no task named "nope".*\[ERR_TASK_NOT_FOUND\]/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /);
    const typo = (await cli('jbos')) as { code: number; stderr: string };
    assert.match(typo.stderr, /Did you mean jobs\?/);
    const state = (await cli('jobs', '--state', 'faild')) as { code: number; stderr: string };
    assert.match(state.stderr, /did you mean "failed"/);
  });
});
