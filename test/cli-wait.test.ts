import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Store } from '../src/store/contract.ts';
import { openStore } from '../src/store/open-store.ts';
import { createWorker, type Worker } from '../src/worker/worker.ts';
import { boom, echo } from './fixtures/wait-tasks.ts';
import { cliStores, runCli } from './helpers/cli-stores.ts';

/**
 * `offload enqueue --wait` through the built CLI against both stores, with a worker in this
 * process: the CLI's process hears of the end from another process. The PostgreSQL run gets a
 * database of its own (the CLI uses the schema `offload`).
 */
const stores = cliStores('cli_wait');

for (const { name, setUp } of stores) {
  describe(`offload enqueue --wait (built dist, ${name})`, () => {
    let db: string;
    let tearDown: () => Promise<void>;
    let store: Store;
    let worker: Worker;
    const cli = (...args: string[]) => runCli(db, ...args);
    before(async () => {
      ({ db, tearDown } = await setUp());
      store = await openStore(db);
      worker = createWorker({
        store,
        tasks: [echo, boom],
        pollInterval: 50,
        blockThreshold: 0,
        logger: pino({ level: 'silent' }),
      });
      await worker.start();
    });
    after(async () => {
      await worker?.stop();
      await store?.close();
      await tearDown?.();
    });

    it('prints the result of the job once a worker elsewhere ran it', async () => {
      const out = await cli('enqueue', 'echo', '--payload', '{"text":"hi"}', '--wait', '--json');
      assert.equal(out.code, 0, out.stderr);
      const answer = JSON.parse(out.stdout) as {
        id: string;
        result: { text: string; pid: number };
      };
      assert.deepEqual(answer.result, { text: 'hi', pid: process.pid });
      assert.equal((await store.jobGet({ id: answer.id }))!.state, 'succeeded');
      const plain = await cli(
        'enqueue',
        'echo',
        '--payload',
        '{"text":"there"}',
        '--wait',
        '15000',
      );
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stdout, /^job \d+ succeeded: \{"text":"there","pid":\d+\}/);
    });

    it("fails with the job's error, a timeout, or bad flags", async () => {
      const failed = await cli('enqueue', 'boom', '--payload', '{"message":"no disk"}', '--wait');
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /failed for good after 1 attempt: no disk \[ERR_JOB_FAILED\]/);
      const late = await cli(
        'enqueue',
        'echo',
        '--payload',
        '{"text":"x"}',
        '--delay',
        '60000',
        '--wait',
        '100',
      );
      assert.equal(late.code, 1);
      assert.match(late.stderr, /did not end within 100 ms.*\[ERR_WAIT_TIMEOUT\]/);
      const negative = await cli('enqueue', 'echo', '--wait', '-1');
      assert.notEqual(negative.code, 0);
      assert.match(negative.stderr, /--wait takes a whole number from 0/);
      const counted = await cli('enqueue', 'echo', '--count', '2', '--wait');
      assert.equal(counted.code, 1);
      assert.match(counted.stderr, /--wait waits for one job.*\[ERR_INVALID_OPTION\]/);
      const jobs = await store.jobCount({ task: 'echo' });
      assert.equal(
        jobs.queued + jobs.scheduled,
        1,
        'only the delayed job waits; --count stored nothing',
      );
    });
  });
}
