import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { adminQuery } from '../helpers/postgres.ts';
import { postgresFactory } from '../store-contract/factory.ts';

const report = defineTask({
  name: 'report',
  run: async (payload: { i: number }, ctx) => {
    ctx.progress({ step: 'first', i: payload.i });
    ctx.progress({ step: 'last', i: payload.i });
    return payload.i;
  },
});

/**
 * PostgreSQL only: a trigger makes each progress write slow (a busy server, a long way to it), as
 * SQLite's synchronous writes never are. The worker must not record the outcome, which ends the
 * lease progress is written under, before the last progress is written.
 */
describe('worker on postgres: progress written slowly', () => {
  let h: Harness;
  before(async () => {
    const factory = await postgresFactory('slow_progress');
    h = await startHarness([report], {}, async () => factory);
    const s = `"${factory.schema}"`;
    await adminQuery(
      `CREATE FUNCTION ${s}.slow_progress() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$`,
    );
    await adminQuery(
      `CREATE TRIGGER slow_progress BEFORE UPDATE OF progress ON ${s}.jobs FOR EACH STATEMENT EXECUTE FUNCTION ${s}.slow_progress()`,
    );
  });
  after(() => h.close());

  it('keeps the last progress a task reports just before it returns', async () => {
    const jobs = await h.queue.enqueueMany(
      [0, 1, 2].map((i) => ({ task: report, payload: { i } })),
    );
    const done = await Promise.all(jobs.map((job) => h.finished(job.id)));
    assert.deepEqual(
      done.map((job) => [job.state, job.progress]),
      [0, 1, 2].map((i) => ['succeeded', { step: 'last', i }]),
    );
  });
});
