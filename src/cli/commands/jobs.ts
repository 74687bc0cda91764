import type { Command } from 'commander';
import { JOB_STATES, type Job, type JobState } from '../../core/job.ts';
import type { EnqueueOptions, Queue } from '../../queue/queue.ts';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { closest } from '../../core/closest.ts';
import { withQueue, type CommandContext, type GlobalFlags } from '../context.ts';
import {
  JOB_HEADERS,
  ProgressBar,
  jobRows,
  print,
  printJson,
  relativeTime,
  table,
} from '../output.ts';
import { LIMITS } from '../../core/limits.ts';
import { MAX_META_BYTES, MAX_TAGS } from '../../core/job-meta.ts';
import { hasLimits } from '../../core/flow-limits.ts';
import { listQueuesWithLimits } from '../../queue/queue-limits.ts';
import { queueLimitsLines } from '../limits-output.ts';
import { intOption, jsonOption } from '../parse.ts';
import { registerJobEditCommands } from './job-edit.ts';

interface EnqueueFlags {
  payload?: unknown;
  queue?: string;
  priority?: number;
  delay?: number;
  uniqueKey?: string;
  idempotencyKey?: string;
  callbackUrl?: string;
  key?: string;
  meta?: Record<string, unknown>;
  tag?: string[];
  attempts?: number;
  count?: number;
  tasks?: string;
  /** `true`: wait as long as it takes; a number: milliseconds. */
  wait?: true | number;
}

/** Commands that look after jobs and queues: enqueue, jobs (update, remove), job, cancel, retry, queues, pause, resume. */
export function registerJobCommands(program: Command, globals: () => GlobalFlags): void {
  program
    .command('enqueue <task>')
    .description('add a job (or --count jobs) of a task')
    .option('-p, --payload <json>', 'the payload, as JSON', jsonOption('--payload'), {})
    .option('-q, --queue <name>', "queue (default: the task's)")
    .option(
      '--priority <n>',
      `higher runs first (-${LIMITS.priority} to ${LIMITS.priority})`,
      intOption('--priority', -LIMITS.priority, LIMITS.priority),
    )
    .option(
      '--delay <ms>',
      'wait this long before the job may run (at most 100 years)',
      intOption('--delay', 0, LIMITS.delayMs),
    )
    .option(
      '--unique-key <key>',
      'return the unfinished job holding this key instead of adding one',
    )
    .option(
      '--idempotency-key <key>',
      'return the job made with this key (in any state) instead of adding one',
    )
    .option('--callback-url <url>', 'POST the signed outcome here when the job ends')
    .option(
      '--key <key>',
      "the flow key its queue's per-key limits go by (default: the task's key function, with --tasks)",
    )
    .option(
      '--meta <json>',
      `small facts about the job, a JSON object of at most ${MAX_META_BYTES} bytes`,
      jsonOption('--meta'),
    )
    .option(
      '--tag <tag>',
      `a tag to find the job by (repeat for more, at most ${MAX_TAGS})`,
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--attempts <n>',
      `runs before failing for good (1 to ${LIMITS.attempts})`,
      intOption('--attempts', 1, LIMITS.attempts),
    )
    .option(
      '--count <n>',
      'add this many copies (in one transaction per 1 000)',
      intOption('--count', 1),
      1,
    )
    .option('-t, --tasks <path>', 'task module, to check payloads against task schemas')
    .option(
      '--wait [ms]',
      "wait for the job's result and print it (fails with the job's error); ms: give up after this long",
      intOption('--wait', 0, LIMITS.timerMs),
    )
    .action((task: string, flags: EnqueueFlags) =>
      withQueue(globals, flags, (queue, context) => enqueue(queue, context, task, flags)),
    );

  const jobs = program
    .command('jobs')
    .description('list jobs, newest first (and `jobs update`, `jobs remove`)')
    .option('-q, --queue <name>', 'only this queue')
    .option('-s, --state <state>', `only this state (${JOB_STATES.join(', ')})`, stateOption)
    .option('--task <name>', 'only this task')
    .option('--tag <tag>', 'only jobs carrying this tag')
    .option('-n, --limit <n>', 'jobs per page (at most 1000)', intOption('--limit', 1, 1000), 20)
    .option('--cursor <cursor>', 'next page, as printed after the table')
    .action(
      (flags: {
        queue?: string;
        state?: JobState;
        task?: string;
        tag?: string;
        limit: number;
        cursor?: string;
      }) =>
        withQueue(globals, {}, async (queue, context) => {
          const page = await queue.listJobs({
            queue: flags.queue,
            state: flags.state,
            task: flags.task,
            tag: flags.tag,
            limit: flags.limit,
            cursor: flags.cursor ?? null,
          });
          if (context.json) return printJson(page);
          print(page.jobs.length ? table(JOB_HEADERS, jobRows(page.jobs)) : 'no jobs match');
          if (page.nextCursor) print(`more: offload jobs --cursor ${page.nextCursor}`);
        }),
    );

  registerJobEditCommands(jobs, globals);

  program
    .command('job <id>')
    .description('show one job: state, payload, result or error, timings')
    .action((id: string) =>
      withQueue(globals, {}, async (queue, context) => showJob(await mustGet(queue, id), context)),
    );

  for (const [name, verb] of [
    ['cancel', 'cancel a scheduled, queued or running job'],
    ['retry', 'queue a failed or cancelled job again'],
  ] as const) {
    program
      .command(`${name} <id>`)
      .description(verb)
      .action((id: string) =>
        withQueue(globals, {}, async (queue, context) => {
          const job = await (name === 'cancel' ? queue.cancel(id) : queue.retry(id)).catch(
            withListHint,
          );
          if (context.json) return printJson(job);
          print(`job ${job.id} is now ${job.state}`);
        }),
      );
  }

  program
    .command('queues')
    .description('list queues with job counts by state, and the limits of limited ones')
    .action(() =>
      withQueue(globals, {}, async (queue, context) => {
        const queues = await listQueuesWithLimits(queue.store);
        if (context.json) return printJson(queues);
        const rows = queues.map((q) => [
          q.name,
          q.paused ? 'paused' : q.limits && hasLimits(q.limits.limits) ? 'limited' : 'active',
          ...JOB_STATES.map((s) => String(q.counts[s])),
        ]);
        if (queues.length === 0) return print('no queues yet');
        print(table(['QUEUE', 'STATUS', ...JOB_STATES.map((s) => s.toUpperCase())], rows));
        const limited = queues.flatMap((q) => (q.limits ? [q.limits] : []));
        if (limited.length) print(`\nlimits\n${queueLimitsLines(limited, Date.now())}`);
      }),
    );

  for (const name of ['pause', 'resume'] as const) {
    program
      .command(`${name} <queue>`)
      .description(
        name === 'pause'
          ? 'stop workers from starting jobs of a queue'
          : 'let workers start jobs of a paused queue again',
      )
      .action((queueName: string) =>
        withQueue(globals, {}, async (queue) => {
          await (name === 'pause' ? queue.pause(queueName) : queue.resume(queueName));
          print(`queue ${queueName} ${name === 'pause' ? 'paused' : 'resumed'}`);
        }),
      );
  }
}

async function enqueue(
  queue: Queue,
  context: CommandContext,
  task: string,
  flags: EnqueueFlags,
): Promise<void> {
  const options: EnqueueOptions = {
    queue: flags.queue,
    priority: flags.priority,
    delay: flags.delay,
    uniqueKey: flags.uniqueKey,
    idempotencyKey: flags.idempotencyKey,
    callbackUrl: flags.callbackUrl,
    key: flags.key,
    meta: flags.meta as Record<string, unknown> | undefined,
    tags: flags.tag,
    attempts: flags.attempts,
  };
  for (const key of Object.keys(options) as Array<keyof EnqueueOptions>)
    if (options[key] === undefined) delete options[key];
  const total = flags.count ?? 1;
  if (flags.wait !== undefined) return enqueueAndWait(queue, context, task, flags, options);
  if (total === 1) {
    const job = await queue.enqueue(task, flags.payload, options);
    if (context.json) return printJson(job);
    return print(`job ${job.id} ${job.state} on queue ${job.queue}: offload job ${job.id}`);
  }
  const bar = new ProgressBar(`enqueueing ${task}`, total);
  let done = 0;
  while (done < total) {
    const size = Math.min(1000, total - done);
    await queue.enqueueMany(
      Array.from({ length: size }, () => ({ task, payload: flags.payload, options })),
    );
    done += size;
    bar.update(done);
  }
  if (context.json) printJson({ enqueued: total });
  else print(`enqueued ${total} jobs of ${task}`);
}

/** `offload enqueue --wait`: one job, then its result (queue.run); the job's error fails the command. */
async function enqueueAndWait(
  queue: Queue,
  context: CommandContext,
  task: string,
  flags: EnqueueFlags,
  options: EnqueueOptions,
): Promise<void> {
  if ((flags.count ?? 1) !== 1) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      '--wait waits for one job; drop --count, or enqueue the copies without --wait',
      { details: { option: 'wait' } },
    );
  }
  const job = await queue.enqueue(task, flags.payload, options);
  const result = await queue.wait(job, {
    timeout: flags.wait === true ? undefined : flags.wait,
  });
  if (context.json) return printJson({ id: job.id, state: 'succeeded', result });
  print(`job ${job.id} succeeded: ${JSON.stringify(result)}`);
}

/** A store's "no job with id" error, told how to find the right id. */
function withListHint(error: unknown): never {
  if (!(error instanceof OffloadError) || error.code !== ErrorCodes.JOB_NOT_FOUND) throw error;
  throw new OffloadError(error.code, `${error.message}; list jobs with \`offload jobs\``, {
    details: { ...error.details },
    cause: error,
  });
}

async function mustGet(queue: Queue, id: string): Promise<Job> {
  const job = await queue.getJob(id);
  if (!job)
    throw new OffloadError(
      ErrorCodes.JOB_NOT_FOUND,
      `no job with id ${id}; list jobs with \`offload jobs\``,
    );
  return job;
}

function showJob(job: Job, context: CommandContext): void {
  if (context.json) return printJson(job);
  const lines: Array<[string, string]> = [
    ['id', job.id],
    ['task', job.task],
    ['queue', job.queue],
    ['state', job.state],
    ['attempts', `${job.attempts} of ${job.maxAttempts}`],
    ['priority', String(job.priority)],
    ['key', job.key ?? '-'],
    ['tags', job.tags.length ? job.tags.join(', ') : '-'],
    ['meta', Object.keys(job.meta).length ? JSON.stringify(job.meta) : '-'],
    ['created', `${new Date(job.createdAt).toISOString()} (${relativeTime(job.createdAt)})`],
    ['run at', new Date(job.runAt).toISOString()],
    ['started', job.startedAt ? new Date(job.startedAt).toISOString() : '-'],
    ['finished', job.finishedAt ? new Date(job.finishedAt).toISOString() : '-'],
    [
      'lease',
      job.leaseOwner
        ? `${job.leaseOwner} until ${new Date(job.leaseExpiresAt!).toISOString()}`
        : '-',
    ],
    ['payload', JSON.stringify(job.payload)],
    ['progress', job.progress === null ? '-' : JSON.stringify(job.progress)],
    ['result', job.result === null ? '-' : JSON.stringify(job.result)],
  ];
  print(lines.map(([key, value]) => `${key.padEnd(9)} ${value}`).join('\n'));
  for (const entry of job.errors) {
    print(
      `failed    attempt ${entry.attempt} at ${new Date(entry.at).toISOString()}: ${entry.code ? `[${entry.code}] ` : ''}${entry.message}`,
    );
  }
  if (job.error)
    print(
      `error     (attempt ${job.error.attempt}) ${job.error.code ? `[${job.error.code}] ` : ''}${job.error.message}\n${job.error.stack ?? ''}`,
    );
}

function stateOption(value: string): JobState {
  if ((JOB_STATES as readonly string[]).includes(value)) return value as JobState;
  const guess = closest(value, JOB_STATES);
  throw new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `--state "${value}" is not a job state${guess ? `; did you mean "${guess}"?` : ''} (states: ${JOB_STATES.join(', ')})`,
  );
}
