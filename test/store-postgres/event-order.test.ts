import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import type { StoreEvents } from '../../src/store/contract.ts';
import {
  createPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from '../../src/store/postgres/postgres-store.ts';
import { createQueue, type Queue } from '../../src/queue/queue.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import type { Task } from '../../src/task/task.ts';
import { createWorker, type Worker } from '../../src/worker/worker.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/temp.ts';

const EVENTS: Array<Exclude<keyof StoreEvents, 'store:changed'>> = [
  'job:enqueued',
  'job:started',
  'job:progress',
  'job:retrying',
  'job:succeeded',
  'job:failed',
  'job:cancelled',
];

/** Fails its first attempt, reports progress on the second and succeeds; retried after 1 ms. */
const flaky = defineTask({
  name: 'flaky',
  attempts: 2,
  backoff: 1,
  run: async (_payload: unknown, ctx) => {
    if (ctx.job.attempt === 1) throw new Error('first attempt fails');
    ctx.progress(1);
  },
});

/** Reports progress, then runs until its signal aborts. */
const waits = defineTask({
  name: 'waits',
  run: async (_payload: unknown, ctx) => {
    ctx.progress('waiting');
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
  },
});

/** A job nobody runs, on a queue of its own. */
const marker = defineTask({ name: 'marker', queue: 'markers', run: async () => undefined });

/**
 * A listener on one store instance records each job's events as `name:attempt`; workers and
 * producers use other instances (other connections and origins, as other processes would).
 * Notifications are delivered in commit order, so once the listener hears a marker job enqueued
 * after everything else committed, it has heard every event committed before it.
 */
describe("postgres store: the order of a job's events across store instances", () => {
  let schema: string;
  const stores: PostgresStore[] = [];
  const workers: Worker[] = [];
  const open = async (options: Partial<PostgresStoreOptions> = {}) => {
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      poolSize: 4,
      ...options,
    });
    stores.push(store);
    return store;
  };
  const startWorker = async (task: Task, options: Partial<PostgresStoreOptions> = {}) => {
    const worker = createWorker({
      store: await open(options),
      tasks: [task],
      concurrency: 20,
      pollInterval: 50,
      blockThreshold: 0,
      logger: pino({ level: 'silent' }),
    });
    workers.push(worker);
    await worker.start();
  };
  /** Each job's events as the listener heard them. */
  const record = (listener: PostgresStore) => {
    const seen = new Map<string, string[]>();
    for (const name of EVENTS) {
      listener.on(name, (event) => {
        const list = seen.get(event.id) ?? [];
        list.push(`${name.slice(4)}:${event.attempt}`);
        seen.set(event.id, list);
      });
    }
    return seen;
  };
  const barrier = async (producer: Queue, seen: Map<string, string[]>) => {
    const { id } = await producer.enqueue(marker, {});
    await waitFor(() => seen.has(id), { what: 'the marker job at the listener' });
  };
  /** The first few jobs whose events differ from every sequence in `allowed`, and how many did. */
  const outOfOrder = (ids: string[], seen: Map<string, string[]>, allowed: string[][]) => {
    const fits = (events: string[] | undefined) =>
      allowed.some((sequence) => JSON.stringify(events) === JSON.stringify(sequence));
    const wrong = ids.filter((id) => !fits(seen.get(id)));
    return {
      count: wrong.length,
      first: wrong.slice(0, 5).map((id) => `${id}: ${seen.get(id)?.join(' ')}`),
    };
  };

  beforeEach(async () => {
    await requirePostgres();
    schema = uniqueSchema('order');
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
    for (const store of stores.splice(0)) await store.close();
    await dropSchema(schema);
  });

  it('keeps each job in order when workers on several instances fail, retry and finish it', async () => {
    const jobs = 400;
    const seen = record(await open());
    const producer = createQueue({ store: await open(), tasks: [flaky, marker] });
    for (let n = 0; n < 3; n++) await startWorker(flaky);
    const ids = (
      await Promise.all(Array.from({ length: jobs }, () => producer.enqueue(flaky, {})))
    ).map((job) => job.id);
    await waitFor(() => ids.every((id) => seen.get(id)?.includes('succeeded:2')), {
      what: `the listener to hear ${jobs} successes`,
      timeoutMs: 60_000,
    });
    await barrier(producer, seen);
    const expected = [
      'enqueued:0',
      'started:1',
      'retrying:1',
      'started:2',
      'progress:2',
      'succeeded:2',
    ];
    // The worker saves progress without waiting for it, so the outcome can overtake and refuse it: no progress event then.
    const withoutProgress = expected.filter((event) => !event.startsWith('progress'));
    const wrong = outOfOrder(ids, seen, [expected, withoutProgress]);
    assert.deepEqual(
      wrong.first,
      [],
      `${wrong.count} of ${jobs} jobs were heard out of order; expected ${expected.join(' ')}`,
    );
  });

  it('hears a running job cancelled by another instance after its start and its progress', async () => {
    const jobs = 60;
    const seen = record(await open());
    const producer = createQueue({ store: await open(), tasks: [waits, marker] });
    const canceller = await open();
    for (let n = 0; n < 3; n++) await startWorker(waits);
    const ids: string[] = [];
    // One job at a time, cancelled as soon as its progress is stored: well inside the time a worker may gather its announcements.
    for (let n = 0; n < jobs; n++) {
      const { id } = await producer.enqueue(waits, {});
      ids.push(id);
      await waitFor(async () => (await canceller.jobGet({ id }))?.progress != null, {
        what: `job ${id} to report progress`,
        intervalMs: 1,
      });
      await canceller.jobCancel({ id });
    }
    await barrier(producer, seen);
    const expected = ['enqueued:0', 'started:1', 'progress:1', 'cancelled:1'];
    const wrong = outOfOrder(ids, seen, [expected]);
    assert.deepEqual(
      wrong.first,
      [],
      `${wrong.count} of ${jobs} jobs were heard out of order; expected ${expected.join(' ')}`,
    );
  });
});
