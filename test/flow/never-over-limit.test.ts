import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { keyLimit } from '../../src/core/flow-limits.ts';
import { ErrorCodes } from '../../src/core/errors.ts';
import type { Job } from '../../src/core/job.ts';
import type { QueueLimits, Store } from '../../src/store/contract.ts';
import { exited } from '../helpers/processes.ts';
import { testStores } from '../helpers/stores.ts';
import { waitFor } from '../helpers/temp.ts';
import {
  allJobs,
  enqueueAll,
  flowJob,
  flowSetup,
  groupBy,
  QUEUE,
  runsOf,
  type FlowSetup,
  type Run,
} from './flow-kit.ts';

const WORKERS = 4;
const CONCURRENCY = 8;
const LEASE_MS = 1500;
const KEYS = 50;
const JOBS_PER_KEY = 40;
const BIG = 'big';
const BIG_JOBS = 1500;
const TOTAL = KEYS * JOBS_PER_KEY + BIG_JOBS;
const LIMITS: QueueLimits = { concurrency: 24, keyConcurrency: 2, keyOverrides: { [BIG]: 10 } };

/** A run as the proof counts it: from its logged start to its logged end, or to its lease's recovery. */
interface Span {
  run: Run;
  end: number;
}

/**
 * Walks the starts and ends in time order (ends first at equal times: a slot is given back only
 * after the run's end was logged) and returns the first instant where a group of spans holds more
 * than its limit, with the spans it held then, and each group's peak.
 */
function firstExcess(
  spans: readonly Span[],
  groupOf: (span: Span) => string,
  limitOf: (group: string) => number,
): { excess: { group: string; at: number; held: Span[] } | null; peaks: Map<string, number> } {
  const events = spans.flatMap((span) => [
    { at: span.run.start, start: true, span },
    { at: span.end, start: false, span },
  ]);
  events.sort((a, b) => a.at - b.at || Number(a.start) - Number(b.start));
  const held = new Map<string, Set<Span>>();
  const peaks = new Map<string, number>();
  for (const event of events) {
    const group = groupOf(event.span);
    const spansOf = held.get(group) ?? new Set<Span>();
    held.set(group, spansOf);
    if (!event.start) {
      spansOf.delete(event.span);
      continue;
    }
    spansOf.add(event.span);
    peaks.set(group, Math.max(peaks.get(group) ?? 0, spansOf.size));
    if (spansOf.size > limitOf(group))
      return { excess: { group, at: event.at, held: [...spansOf] }, peaks };
  }
  return { excess: null, peaks };
}

function describeExcess(excess: { group: string; at: number; held: Span[] }): string {
  const lines = excess.held.map(
    ({ run, end }) =>
      `job ${run.job} key ${run.key} attempt ${run.attempt} pid ${run.pid}: ${run.start} → ${run.end ?? `(no end; recovered at ${end})`}`,
  );
  return `${excess.held.length} runs of ${excess.group} at ${excess.at}:\n${lines.join('\n')}`;
}

/**
 * Freezes the worker until it is inside a run (logged its start, not its end) whose lease the store
 * shows it holding, then kills it; returns how many leases it held.
 */
async function killInsideRuns(
  store: Store,
  log: FlowSetup['log'],
  victim: ChildProcess,
): Promise<number> {
  let holding = 0;
  const inRun = () => log.inside(victim.pid!).length > 0;
  await waitFor(
    async () => {
      if (!inRun()) return false;
      victim.kill('SIGSTOP');
      const inside = new Set(log.inside(victim.pid!).map(String));
      const held = (
        await store.jobList({ queue: QUEUE, state: 'running', limit: 1000 })
      ).jobs.filter((job) => job.leaseOwner?.includes(`:${victim.pid}:`));
      holding = held.length;
      if (held.some((job) => inside.has(job.id))) return true;
      victim.kill('SIGCONT');
      return false;
    },
    { intervalMs: 1, what: 'the victim to be inside a run' },
  );
  victim.kill('SIGKILL');
  assert.equal(await exited(victim), 'SIGKILL');
  return holding;
}

/** When the store recovered the lease of a run whose worker died, from the job's failure history. */
function recoveredAt(job: Job, attempt: number): number {
  const entry = job.errors.find(
    (error) => error.attempt === attempt && error.code === ErrorCodes.WORKER_DIED,
  );
  assert.ok(
    entry,
    `job ${job.id} attempt ${attempt} logged no end, so its worker died, but its history has no ERR_WORKER_DIED for it: ${JSON.stringify(job.errors)}`,
  );
  return entry.at;
}

describe('flow control with worker processes: never over a concurrency limit', () => {
  for (const factory of testStores) {
    it(
      `${factory.name}: ${WORKERS} workers, ${TOTAL} jobs on ${KEYS + 1} keys, one worker SIGKILLed: every job succeeds and no key, nor the queue, ever runs more than its limit`,
      { timeout: 120_000 },
      async () => {
        const setup = await flowSetup(await factory.make('flow-over'), 'flow-over');
        try {
          const { store } = setup;
          await store.limitsSet({ queue: QUEUE, layer: 'runtime', limits: LIMITS });
          const jobs = [
            ...Array.from({ length: BIG_JOBS }, () => BIG),
            ...Array.from({ length: KEYS * JOBS_PER_KEY }, (_, n) => `k${n % KEYS}`),
          ]
            .map((key) => ({ key, order: Math.random() }))
            .sort((a, b) => a.order - b.order)
            .map(({ key }) => flowJob({ key, ms: 2 + Math.floor(Math.random() * 18) }));
          const workers = await Promise.all(
            Array.from({ length: WORKERS }, () =>
              setup.startWorker({ concurrency: CONCURRENCY, leaseMs: LEASE_MS }),
            ),
          );
          await enqueueAll(store, jobs);
          const succeeded = async () => (await store.jobCount({ queue: QUEUE })).succeeded;
          await waitFor(async () => (await succeeded()) >= TOTAL / 3, {
            timeoutMs: 60_000,
            intervalMs: 50,
            what: 'a third of the jobs to succeed',
          });
          const victim = workers[0]!;
          const held = await killInsideRuns(store, setup.log, victim);
          await waitFor(async () => (await succeeded()) === TOTAL, {
            timeoutMs: 90_000,
            intervalMs: 100,
            what: 'every job to succeed',
          });
          await setup.stopWorkers();

          const counts = await store.jobCount({ queue: QUEUE });
          assert.deepEqual(
            { ...counts, succeeded: 0 },
            {
              ...counts,
              succeeded: 0,
              queued: 0,
              scheduled: 0,
              claimed: 0,
              running: 0,
              failed: 0,
              cancelled: 0,
            },
          );
          assert.equal(counts.succeeded, TOTAL);

          const byId = new Map((await allJobs(store, { queue: QUEUE })).map((j) => [j.id, j]));
          const runs = runsOf(setup.log.rows());
          const unended = runs.filter((run) => run.end === null);
          assert.ok(unended.length > 0, `the victim died inside runs (it held ${held} leases)`);
          const spans = runs.map((run): Span => {
            if (run.end !== null) return { run, end: run.end };
            assert.equal(
              run.pid,
              victim.pid,
              `job ${run.job}: only the killed worker leaves a run unended`,
            );
            return { run, end: recoveredAt(byId.get(String(run.job))!, run.attempt) };
          });
          assert.equal(new Set(runs.map((r) => r.job)).size, TOTAL, 'every job ran');
          for (const [job, jobRuns] of groupBy(runs, (r) => r.job))
            assert.ok(
              jobRuns.slice(0, -1).every((r) => r.pid === victim.pid),
              `job ${job} ran again only because its worker died`,
            );

          const perKey = firstExcess(
            spans,
            (s) => s.run.key,
            (key) => keyLimit(LIMITS, key)!,
          );
          assert.equal(perKey.excess && describeExcess(perKey.excess), null);
          const queueWide = firstExcess(
            spans,
            () => QUEUE,
            () => LIMITS.concurrency!,
          );
          assert.equal(queueWide.excess && describeExcess(queueWide.excess), null);
          // The limits were reached, so going over them would have shown.
          const smallPeaks = [...perKey.peaks].filter(([key]) => key !== BIG).map(([, n]) => n);
          const peaks = {
            [BIG]: perKey.peaks.get(BIG),
            small: Math.max(...smallPeaks),
            queue: queueWide.peaks.get(QUEUE),
          };
          console.log(`peaks: ${JSON.stringify(peaks)}`);
          assert.deepEqual({ ...peaks, queue: 0 }, { [BIG]: 10, small: 2, queue: 0 });
        } finally {
          await setup.cleanup();
        }
      },
    );
  }
});
