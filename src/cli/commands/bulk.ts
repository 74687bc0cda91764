import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import type { JobState } from '../../core/job.ts';
import type { BulkFilterInput, BulkOptions } from '../../queue/bulk-options.ts';
import type { Queue } from '../../queue/queue.ts';
import type { BulkAction, BulkRecord } from '../../store/contract.ts';
import { withQueue, type CommandContext, type GlobalFlags } from '../context.ts';
import { ProgressBar, print, printJson, relativeTime, table, truncate } from '../output.ts';
import { intOption } from '../parse.ts';

interface BulkFlags {
  errorCode?: string;
  errorMessage?: string;
  olderThan?: string;
  createdBefore?: string;
  all?: boolean;
  yes?: boolean;
}

/** The `jobs` list's own filters, which its bulk subcommands share. */
interface ListFlags {
  queue?: string;
  state?: JobState;
  task?: string;
  tag?: string;
}

const PAST: Record<BulkAction, string> = {
  retry: 'retried',
  cancel: 'cancelled',
  delete: 'deleted',
};

/**
 * `offload jobs retry|cancel|delete` (bulk by filter, with a count and a confirmation unless
 * `--yes`) and `offload dead-letters` (with `--redrive`). Registered after the `jobs` command,
 * whose `--queue`, `--task` and `--state` they share.
 */
export function registerBulkCommands(program: Command, globals: () => GlobalFlags): void {
  const jobs = program.commands.find((command) => command.name() === 'jobs');
  if (!jobs) throw new Error('registerBulkCommands: register the jobs command first');
  for (const [action, what] of [
    ['retry', 'queue failed or cancelled jobs again, each with a fresh attempt budget'],
    ['cancel', 'cancel jobs that have not ended'],
    ['delete', 'delete jobs that ended or have not started'],
  ] as const) {
    jobs
      .command(action)
      .description(
        `${what}, every one the filter matches (--queue, --task, --state, --tag and these)`,
      )
      .option('--error-code <code>', "only jobs whose last error has this code ('none': no code)")
      .option('--error-message <text>', 'only jobs whose last error has this message, whole')
      .option('--older-than <duration>', 'only jobs created longer ago than this, such as 1h or 7d')
      .option('--created-before <date>', 'only jobs created before this ISO 8601 date-time')
      .option('--all', 'confirm a filter that matches every job')
      .option('-y, --yes', 'do not ask for confirmation')
      .action((flags: BulkFlags, command: Command) =>
        withQueue(globals, {}, (queue, context) =>
          bulk(
            queue,
            context,
            {
              action,
              filter: filterOf(command.parent!.opts<ListFlags>(), flags),
              all: flags.all,
            },
            flags.yes === true,
          ),
        ),
      );
  }

  program
    .command('dead-letters')
    .description('jobs that failed for good, grouped by task and error; --redrive retries a group')
    .option('-q, --queue <name>', 'only this queue')
    .option('--task <name>', 'only this task')
    .option('-n, --limit <n>', 'groups to show (at most 1000)', intOption('--limit', 1, 1000), 50)
    .option(
      '--redrive <n>',
      'retry every job of group n (as numbered in the list)',
      intOption('--redrive', 1),
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(
      (flags: { queue?: string; task?: string; limit: number; redrive?: number; yes?: boolean }) =>
        withQueue(globals, {}, async (queue, context) => {
          const groups = await queue.deadLetters({
            queue: flags.queue,
            task: flags.task,
            limit: flags.limit,
          });
          if (flags.redrive === undefined) {
            if (context.json) return printJson(groups);
            if (groups.length === 0) return print('no jobs failed for good');
            const now = Date.now();
            print(
              table(
                ['#', 'TASK', 'CODE', 'MESSAGE', 'COUNT', 'FIRST', 'LAST'],
                groups.map((g, i) => [
                  String(i + 1),
                  g.task,
                  g.errorCode ?? '-',
                  truncate(g.errorMessage, 60),
                  String(g.count),
                  relativeTime(g.firstSeen, now),
                  relativeTime(g.lastSeen, now),
                ]),
              ),
            );
            return print('redrive a group: offload dead-letters --redrive <#>');
          }
          const group = groups[flags.redrive - 1];
          if (!group)
            throw new OffloadError(
              ErrorCodes.INVALID_OPTION,
              `--redrive ${flags.redrive}: there are ${groups.length} groups with these filters; list them with \`offload dead-letters\``,
              { details: { option: 'redrive' } },
            );
          await bulk(
            queue,
            context,
            { action: 'retry', filter: { ...group.filter } },
            flags.yes === true,
          );
        }),
    );
}

/** Counts, confirms (unless `yes`), runs in chunks with a progress bar, and reports. */
async function bulk(
  queue: Queue,
  context: CommandContext,
  options: BulkOptions,
  yes: boolean,
): Promise<void> {
  const count = await queue.countBulk(options);
  if (count === 0) {
    if (context.json) return printJson({ matched: 0, done: 0 });
    return print(`no jobs match; nothing to ${options.action}`);
  }
  if (!context.json) print(`${count} ${count === 1 ? 'job matches' : 'jobs match'}`);
  if (!yes) await confirm(options.action, count);
  const handle = await queue.bulk(options);
  const bar = new ProgressBar(options.action, count);
  const ticker = setInterval(() => {
    void handle.progress().then(
      (record) => bar.update(Math.min(record.done, count - 1)),
      () => {},
    );
  }, 200);
  let end: BulkRecord;
  try {
    end = await handle.done;
  } finally {
    clearInterval(ticker);
  }
  bar.update(count);
  if (context.json) return printJson(end);
  const skipped = end.skipped
    ? ` (${end.skipped} left alone: their state moved on or their unique key is held)`
    : '';
  print(`${PAST[options.action]} ${end.done} ${end.done === 1 ? 'job' : 'jobs'}${skipped}`);
}

/** Asks on the terminal; without one, refuses: a script says `--yes`. */
async function confirm(action: BulkAction, count: number): Promise<void> {
  const refuse = (why: string) =>
    new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `${why}; nothing was changed. Pass --yes to ${action} the ${count} matching jobs without a prompt`,
      { details: { option: 'yes' } },
    );
  if (process.stdin.isTTY !== true) throw refuse('not confirmed (stdin is not a terminal)');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${action} ${count} jobs? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw refuse('not confirmed');
  } finally {
    prompt.close();
  }
}

function filterOf(list: ListFlags, flags: BulkFlags): BulkFilterInput {
  const filter: BulkFilterInput = {};
  if (list.queue !== undefined) filter.queue = list.queue;
  if (list.task !== undefined) filter.task = list.task;
  if (list.state !== undefined) filter.state = list.state;
  if (list.tag !== undefined) filter.tag = list.tag;
  if (flags.errorCode !== undefined)
    filter.errorCode = flags.errorCode === 'none' ? null : flags.errorCode;
  if (flags.errorMessage !== undefined) filter.errorMessage = flags.errorMessage;
  if (flags.olderThan !== undefined)
    filter.olderThan = (
      /^\d+$/.test(flags.olderThan) ? Number(flags.olderThan) : flags.olderThan
    ) as BulkFilterInput['olderThan'];
  if (flags.createdBefore !== undefined) {
    const at = Date.parse(flags.createdBefore);
    if (Number.isNaN(at))
      throw new OffloadError(
        ErrorCodes.INVALID_OPTION,
        `--created-before "${flags.createdBefore}" is not an ISO 8601 date-time, such as 2026-01-31T12:00:00Z`,
        { details: { option: 'created-before' } },
      );
    filter.createdBefore = at;
  }
  return filter;
}
