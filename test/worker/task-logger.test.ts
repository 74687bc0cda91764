import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { createQueue } from '../../src/queue/queue.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { logInline, logProcess, logThread } from '../fixtures/logger-tasks.ts';
import { makeTempDir } from '../helpers/temp.ts';

const temp = makeTempDir('task-logger');
after(() => temp.cleanup());

/** A pino logger at `info` whose lines land, parsed, in `lines`. */
function capturingLogger(lines: Array<Record<string, unknown>>): pino.Logger {
  return pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
}

describe('ctx.logger reaches the worker logger with the job fields, in every mode', () => {
  it('inline, thread and process tasks', async () => {
    const store = await createSqliteStore({ path: path.join(temp.dir, 'jobs.db') });
    const lines: Array<Record<string, unknown>> = [];
    const worker = createWorker({
      store,
      tasks: [logInline, logThread, logProcess],
      logger: capturingLogger(lines),
      id: 'logging-worker',
      pools: { thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } },
    });
    const queue = createQueue({ store });
    try {
      const jobs = await Promise.all(
        [logInline, logThread, logProcess].map((task) =>
          queue.enqueue(task, { word: task.name }, { attempts: 2 }),
        ),
      );
      const summary = await worker.runUntilIdle();
      assert.equal(summary.succeeded, 3);
      for (const job of jobs) {
        const mine = lines.filter((line) => line.job === job.id && !('durationMs' in line));
        const fields = {
          job: job.id,
          task: job.task,
          queue: 'default',
          attempt: 1,
          worker: 'logging-worker',
        };
        assert.equal(mine.length, 3, `${job.task}: ${JSON.stringify(mine)}`);
        const end = lines.find((line) => line.job === job.id && 'durationMs' in line);
        assert.match(
          String(end?.msg),
          new RegExp(`^job ${job.id} ${job.task} succeeded in \\d+ ms$`),
        );
        assert.deepEqual(pick(mine[0]!, fields), fields);
        assert.equal(mine[0]!.msg, `said ${job.task}`);
        assert.equal(mine[0]!.step, 1);
        assert.equal(mine[0]!.level, 30);
        assert.equal(mine[1]!.msg, 'from a child');
        assert.equal(mine[1]!.part, 'inner');
        assert.equal(mine[1]!.level, 40);
        assert.deepEqual(pick(mine[1]!, fields), fields);
        const err = mine[2]!.err as Record<string, unknown>;
        assert.equal(mine[2]!.level, 50);
        assert.equal(mine[2]!.msg, 'boom');
        assert.equal(err.type, 'Error');
        assert.equal(err.message, 'boom');
        assert.equal(err.code, 'E_BOOM');
        assert.match(String(err.stack), /logger-tasks\.ts/);
        assert.ok(!mine.some((line) => line.msg === 'below the level'));
      }
    } finally {
      await worker.stop();
      await store.close();
    }
  });
});

function pick(
  line: Record<string, unknown>,
  like: Record<string, unknown>,
): Record<string, unknown> {
  return Object.fromEntries(Object.keys(like).map((key) => [key, line[key]]));
}
