import { InvalidArgumentError, type Command } from 'commander';
import { durationMs } from '../../core/duration.ts';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import { LIMITS } from '../../core/limits.ts';
import type { JobChanges } from '../../queue/job-update.ts';
import { withQueue, type GlobalFlags } from '../context.ts';
import { print, printJson } from '../output.ts';
import { intOption, jsonOption } from '../parse.ts';

interface UpdateFlags {
  runAt?: number;
  delay?: number;
  priority?: number;
  payload?: unknown;
  tasks?: string;
}

/** `offload jobs update <id>` and `offload jobs remove <id>`: change or delete a job that has not started. */
export function registerJobEditCommands(jobs: Command, globals: () => GlobalFlags): void {
  jobs
    .command('update <id>')
    .description('change the run-at, priority or payload of a job that has not started')
    .option('--run-at <time>', 'earliest start: an ISO 8601 date-time or epoch ms', runAtOption)
    .option(
      '--delay <duration>',
      "run after this long from now (ms, or '30s', '5m', '1h')",
      delayOption,
    )
    .option(
      '--priority <n>',
      `higher runs first (-${LIMITS.priority} to ${LIMITS.priority})`,
      intOption('--priority', -LIMITS.priority, LIMITS.priority),
    )
    .option('-p, --payload <json>', 'the new payload, as JSON', jsonOption('--payload'))
    .option('-t, --tasks <path>', 'task module, to check the payload against its task schema')
    .action((id: string, flags: UpdateFlags) =>
      withQueue(globals, flags, async (queue, context) => {
        const job = await queue.update(id, changesOf(flags)).catch(withJobsHint);
        if (context.json) return printJson(job);
        print(
          `job ${job.id} updated: ${job.state}, run at ${new Date(job.runAt).toISOString()}, priority ${job.priority}`,
        );
      }),
    );

  jobs
    .command('remove <id>')
    .description('delete a job that has not started or has ended (cancel a running one first)')
    .action((id: string) =>
      withQueue(globals, {}, async (queue, context) => {
        const job = await queue.remove(id).catch(withJobsHint);
        if (context.json) return printJson(job);
        print(`job ${job.id} removed (it was ${job.state})`);
      }),
    );
}

function changesOf(flags: UpdateFlags): JobChanges {
  const changes: JobChanges = {};
  if (flags.runAt !== undefined) changes.runAt = flags.runAt;
  if (flags.delay !== undefined) changes.delay = flags.delay;
  if (flags.priority !== undefined) changes.priority = flags.priority;
  if (flags.payload !== undefined) changes.payload = flags.payload;
  if (Object.keys(changes).length === 0)
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'nothing to change: pass --run-at, --delay, --priority or --payload',
    );
  return changes;
}

/** A store's refusal, told how to look the job up. */
function withJobsHint(error: unknown): never {
  if (!(error instanceof OffloadError)) throw error;
  const hint =
    error.code === ErrorCodes.JOB_NOT_FOUND
      ? '; list jobs with `offload jobs`'
      : error.code === ErrorCodes.JOB_STATE
        ? `; see it with \`offload job ${String(error.details.id)}\``
        : '';
  if (!hint) throw error;
  throw new OffloadError(error.code, `${error.message}${hint}`, {
    details: { ...error.details },
    cause: error,
  });
}

function runAtOption(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError(
      `--run-at takes an ISO 8601 date-time (2030-01-01T09:00:00Z) or epoch milliseconds, got "${value}"`,
    );
  return ms;
}

function delayOption(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : durationMs(value);
  if (ms === undefined)
    throw new InvalidArgumentError(
      `--delay takes milliseconds or a duration such as 30s, 5m or 1h, got "${value}"`,
    );
  return ms;
}
