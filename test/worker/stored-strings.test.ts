import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Job } from '../../src/core/job.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import type { Store } from '../../src/store/contract.ts';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Task } from '../../src/task/task.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { bigResult, nulError, nulOutput } from '../fixtures/stored-strings-tasks.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

const tasks = [nulOutput, nulError, bigResult] as unknown as Task[];

const stores: Array<[string, () => Promise<{ store: Store; cleanup: () => Promise<void> }>]> = [
  [
    'SQLite',
    async () => {
      const { dir, cleanup } = makeTempDir('stored-strings');
      return {
        store: createSqliteStore({ path: path.join(dir, 'jobs.db') }),
        cleanup: async () => cleanup(),
      };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      await requirePostgres();
      const schema = uniqueSchema('strings');
      return {
        store: await createPostgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 }),
        cleanup: () => dropSchema(schema),
      };
    },
  ],
];

for (const [label, open] of stores) {
  describe(`what a run leaves on the job, on ${label}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let worker: Worker;
    let queue: Queue;

    before(async () => {
      ({ store, cleanup } = await open());
      queue = createQueue({ store, tasks });
      worker = createWorker({
        store,
        tasks,
        pollInterval: 50,
        blockThreshold: 0,
        maxResultBytes: 1_000,
        logger: pino({ level: 'silent' }),
        pools: { process: { maxWorkers: 1, forwardOutput: false } },
      });
      await worker.start();
    });
    after(async () => {
      await worker.stop();
      await store.close();
      await cleanup();
    });

    const finished = async (id: string): Promise<Job> => {
      let job: Job | undefined;
      await waitFor(
        async () => {
          job = await queue.getJob(id);
          return job !== undefined && ['succeeded', 'failed', 'cancelled'].includes(job.state);
        },
        { timeoutMs: 60_000, what: `job ${id} to finish` },
      );
      return job!;
    };

    it('keeps U+0000 in a result and an error message, and an output tail with it as U+FFFD', async () => {
      const output = await finished((await queue.enqueue(nulOutput, null)).id);
      assert.equal(output.state, 'succeeded', JSON.stringify(output.error));
      assert.deepEqual(output.result, { text: 'a\u0000b' });
      assert.equal(output.outputTail, 'before\uFFFDafter\n');
      const failed = await finished((await queue.enqueue(nulError, null)).id);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error?.message, 'bad\u0000thing');
    });

    it("says to raise the worker's maxResultBytes, not maxPayloadBytes, for a result or progress over it", async () => {
      for (const progress of [false, true]) {
        const job = await finished((await queue.enqueue(bigResult, { progress })).id);
        assert.equal(job.state, 'failed');
        assert.match(
          job.error!.message,
          progress ? /progress of job/ : /result of task "big-result"/,
        );
        assert.match(
          job.error!.message,
          /over the limit of 1000\. .*raise the worker's `maxResultBytes`/,
        );
        assert.doesNotMatch(job.error!.message, /maxPayloadBytes/);
      }
    });
  });
}
