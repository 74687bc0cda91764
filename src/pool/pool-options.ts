import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { z } from 'zod';
import { optionSchemas, parseOptions } from '../core/options.ts';
import type { ExecutionMode } from '../task/task.ts';

/** Options of {@link createPool}; each states its default. */
export interface PoolOptions {
  /** Where tasks run: `inline` (this event loop), `thread` (worker_threads) or `process` (child processes). Default `thread`. */
  mode?: ExecutionMode;
  /** Path of the task module (a file exporting `defineTask(...)` results), loaded once per thread or process. `.ts` works as is. Required. */
  module: string | URL;
  /** Threads or processes kept running even when idle. `inline`: ignored. Default 1. */
  minWorkers?: number;
  /** Most threads or processes at once; `inline`: most tasks running at once. Default: the number of CPUs (`inline`: unlimited). */
  maxWorkers?: number;
  /** A worker above `minWorkers` idle this long (ms) is ended. Default 10 000. */
  idleTimeout?: number;
  /** Most tasks waiting for a worker; `run` rejects with ERR_QUEUE_FULL beyond it. Default unlimited. */
  maxQueue?: number;
  /** Milliseconds a task may run, counted from its start, when `run` gives no `timeout`. Default: the task's own `timeout` (0: none). */
  taskTimeout?: number;
  /** Replace a worker after it ran this many tasks, or (`heapUsedMb`) once its heap grows past this size. Default: never. */
  recycleAfter?: number | { tasks?: number; heapUsedMb?: number };
  /** Heap caps per thread; for processes `maxOldGenerationSizeMb` becomes `--max-old-space-size`. Default: Node's. */
  resourceLimits?: ResourceLimits;
  /**
   * Tasks handed to one worker at a time. `auto` keeps about 8 ms of work queued in each worker,
   * judged by measured run times (from 1 up to 256), so a busy worker never sleeps between tasks
   * and the parent wakes once per batch rather than once per task.
   * Default `auto`.
   */
  tasksPerWorker?: number | 'auto';
  /** How long (ms) a cancelled or timed-out task may take to stop after its signal aborts before its thread or process is ended. Default 1 000. */
  cancelGrace?: number;
  /** Extra Node.js flags for threads or processes. Default none. */
  execArgv?: readonly string[];
  /** Environment of child processes (and of threads' `process.env`). Default: this process's. */
  env?: Record<string, string | undefined>;
  /** Copy workers' stdout and stderr to this process's. Default true. */
  forwardOutput?: boolean;
  /** Characters of each worker's output kept for error reports and `onOutput`. Default 16 384. */
  outputTail?: number;
  /** An inline task gives up its loop at `ctx.yield()` after holding it this long (ms). Default 10. */
  sliceMs?: number;
}

const limitsSchema = z
  .object({
    maxOldGenerationSizeMb: z.number().positive().optional(),
    maxYoungGenerationSizeMb: z.number().positive().optional(),
    codeRangeSizeMb: z.number().positive().optional(),
    stackSizeMb: z.number().positive().optional(),
  })
  .strict();

const unlimited = z.literal(Infinity);

export const poolOptionsSchema = z.object({
  mode: z
    .enum(['inline', 'thread', 'process'], { message: "must be 'inline', 'thread' or 'process'" })
    .default('thread'),
  module: z.union([z.string().min(1, 'must be the path of a task module'), z.instanceof(URL)], {
    message: 'must be the path of a task module',
  }),
  minWorkers: z
    .number()
    .int('must be a whole number')
    .min(0, 'must be 0 or more')
    .max(1024, 'must be 1024 or less')
    .optional(),
  maxWorkers: z
    .union([optionSchemas.positiveInt.max(1024, 'must be 1024 or less'), unlimited])
    .optional(),
  idleTimeout: optionSchemas.timerMs.default(10_000),
  maxQueue: z
    .union([z.number().int('must be a whole number').min(0, 'must be 0 or more'), unlimited])
    .default(Infinity),
  taskTimeout: optionSchemas.timerMs.optional(),
  recycleAfter: z
    .union(
      [
        optionSchemas.positiveInt,
        z
          .object({
            tasks: optionSchemas.positiveInt.optional(),
            heapUsedMb: z.number().positive('must be more than 0').optional(),
          })
          .strict(),
      ],
      { message: 'must be a number of tasks or { tasks, heapUsedMb }' },
    )
    .optional(),
  resourceLimits: limitsSchema.optional(),
  tasksPerWorker: z
    .union([optionSchemas.positiveInt.max(1024, 'must be 1024 or less'), z.literal('auto')])
    .default('auto'),
  cancelGrace: optionSchemas.timerMs.default(1_000),
  execArgv: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string().optional()).optional(),
  forwardOutput: z.boolean().default(true),
  outputTail: z.number().int('must be a whole number').min(0, 'must be 0 or more').default(16_384),
  sliceMs: optionSchemas.intervalMs.default(10),
});

/** Options after validation, with every default filled in. */
export type ResolvedPoolOptions = Omit<
  z.output<typeof poolOptionsSchema>,
  'minWorkers' | 'maxWorkers' | 'recycleAfter' | 'module'
> & {
  module: string;
  minWorkers: number;
  maxWorkers: number;
  recycleTasks: number;
  recycleHeapBytes: number;
};

/** Validates {@link PoolOptions}: unknown or out-of-range options fail with ERR_INVALID_OPTION naming the option. */
export function resolvePoolOptions(input: PoolOptions): ResolvedPoolOptions {
  const options = parseOptions('createPool', poolOptionsSchema, input);
  const inline = options.mode === 'inline';
  const maxWorkers =
    options.maxWorkers ?? (inline ? Infinity : Math.max(1, os.availableParallelism()));
  const minWorkers = inline ? 0 : Math.min(options.minWorkers ?? 1, maxWorkers);
  if (options.minWorkers !== undefined && options.minWorkers > maxWorkers) {
    parseOptions(
      'createPool',
      poolOptionsSchema.extend({
        minWorkers: z.number().max(maxWorkers, `must not exceed maxWorkers (${maxWorkers})`),
      }),
      input,
    );
  }
  const recycle =
    typeof options.recycleAfter === 'number'
      ? { tasks: options.recycleAfter }
      : (options.recycleAfter ?? {});
  const module = path.resolve(
    options.module instanceof URL ? fileURLToPath(options.module) : options.module,
  );
  return {
    ...options,
    module,
    minWorkers,
    maxWorkers,
    recycleTasks: recycle.tasks ?? Infinity,
    recycleHeapBytes:
      recycle.heapUsedMb === undefined ? Infinity : recycle.heapUsedMb * 1024 * 1024,
  };
}
