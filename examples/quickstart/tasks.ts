import { setTimeout as sleep } from 'node:timers/promises';
import { defineTask } from 'offload';

/** A task that answers at once. */
export const hello = defineTask({
  name: 'hello',
  example: { name: 'world' },
  run: async (payload: { name: string }) => ({ greeting: `hello, ${payload.name}` }),
});

/** Slow I/O-bound work that reports progress and stops when its job is cancelled. */
export const report = defineTask({
  name: 'report',
  queue: 'reports',
  timeout: 60_000,
  example: { pages: 5 },
  run: async (payload: { pages: number }, ctx) => {
    for (let page = 1; page <= payload.pages; page++) {
      await sleep(200, undefined, { signal: ctx.signal });
      ctx.progress(Math.round((page / payload.pages) * 100));
    }
    return { pages: payload.pages };
  },
});

/** Fails now and then, to show retries with backoff. */
export const flaky = defineTask({
  name: 'flaky',
  attempts: 4,
  backoff: { delay: 500 },
  example: { chance: 0.5 },
  run: async (payload: { chance: number }, ctx) => {
    if (Math.random() < payload.chance) throw new Error(`unlucky on attempt ${ctx.job.attempt}`);
    return { attempt: ctx.job.attempt };
  },
});
