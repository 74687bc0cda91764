import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import type { ApiJob, ApiQueue } from '../../src/client/resources.ts';
import type { Store } from '../../src/store/contract.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi } from '../helpers/api.ts';
import {
  postgresFactory,
  sqliteFactory,
  type MakeStoreFactory,
} from '../store-contract/factory.ts';

const run = promisify(execFile);
const flaky = defineTask({ name: 'flaky', attempts: 5, run: async () => null });
const WORKER = 'host:7:history';

/** Every surface shows a job's failure history and tells jobs claimed ahead from running ones. */
for (const [name, makeFactory] of [
  ['sqlite', () => sqliteFactory('history')],
  ['postgres', () => postgresFactory('history')],
] as Array<[string, MakeStoreFactory]>) {
  describe(`failure history and claimed jobs on every surface: ${name}`, () => {
    let store: Store | undefined;
    const factory = makeFactory();
    after(async () => (await factory).destroy());

    it('GET /v1/jobs/{id}, ?state=claimed, queue counts, /metrics and `offload job` show them', async () => {
      store = await (await factory).open();
      const api = await startApi([flaky], { worker: false, store });
      try {
        const created = await api.call('POST', '/v1/jobs', { task: 'flaky', payload: {} });
        assert.equal(created.status, 202);
        const id = (created.body as ApiJob).id;
        for (const message of ['first failure', 'second failure']) {
          const [claimed] = await store.jobClaim({
            workerId: WORKER,
            queues: [{ name: 'default', limit: 1 }],
            tasks: ['flaky'],
            leaseMs: 10_000,
          });
          const lease = {
            id: claimed!.id,
            workerId: WORKER,
            attempt: claimed!.attempts,
            fence: claimed!.fence,
          };
          await store.jobRecordOutcomes([
            {
              kind: 'failed',
              lease,
              error: { name: 'Error', message, code: 'E_FLAKY' },
              retryAt: store.clock.now(),
            },
          ]);
        }
        const shown = await api.call('GET', `/v1/jobs/${id}`);
        assert.equal(shown.status, 200);
        const job = shown.body as ApiJob;
        assert.deepEqual(
          job.errors.map((entry) => [entry.attempt, entry.message, entry.code]),
          [
            [1, 'first failure', 'E_FLAKY'],
            [2, 'second failure', 'E_FLAKY'],
          ],
        );
        assert.match(job.errors[0]!.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

        await api.call('POST', '/v1/jobs', { task: 'flaky', payload: {} });
        await store.jobClaim({
          workerId: WORKER,
          queues: [{ name: 'default', limit: 2, start: 1 }],
          tasks: ['flaky'],
          leaseMs: 10_000,
        });
        const claimed = await api.call('GET', '/v1/jobs?state=claimed');
        assert.equal(claimed.status, 200);
        assert.equal((claimed.body as { jobs: ApiJob[] }).jobs.length, 1);
        assert.equal((claimed.body as { jobs: ApiJob[] }).jobs[0]!.worker, WORKER);
        const queues = (await api.call('GET', '/v1/queues')).body as { queues: ApiQueue[] };
        const counts = queues.queues.find((queue) => queue.name === 'default')!.counts;
        assert.deepEqual([counts.claimed, counts.running], [1, 1]);
        const metrics = await api.call('GET', '/metrics');
        assert.match(String(metrics.body), /offload_jobs\{queue="default",state="claimed"\} 1/);

        if (name === 'sqlite') {
          const file = store.description.replace(/^sqlite:/, '');
          const cli = await run(process.execPath, [
            path.resolve('dist/cli/main.js'),
            '--db',
            file,
            'job',
            id,
          ]);
          assert.match(cli.stdout, /failed\s+attempt 1 at \S+: \[E_FLAKY\] first failure/);
          assert.match(cli.stdout, /failed\s+attempt 2 at \S+: \[E_FLAKY\] second failure/);
        }
      } finally {
        await api.close();
      }
    });
  });
}
