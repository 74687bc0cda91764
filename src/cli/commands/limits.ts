import { InvalidArgumentError, type Command } from 'commander';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import {
  MAX_CONCURRENCY_LIMIT,
  type QueueLimitsInput,
  type RateWindowInput,
} from '../../core/flow-limits.ts';
import type { Queue } from '../../queue/queue.ts';
import type { LimitsState } from '../../store/contract.ts';
import { withQueue, type CommandContext, type GlobalFlags } from '../context.ts';
import { limitsLine, limitsReport, liveLine, queueLimitsLines } from '../limits-output.ts';
import { print, printJson } from '../output.ts';
import { intOption } from '../parse.ts';

interface SetFlags {
  concurrency?: number;
  keyConcurrency?: number;
  override: Array<[string, number]>;
  rate?: RateWindowInput;
  keyRate?: RateWindowInput;
  order?: string;
  none?: boolean;
}

/** The flag each field of the limits comes from, to name it when a value is refused. */
const FLAG_OF: Record<string, string> = {
  concurrency: '--concurrency',
  keyConcurrency: '--key-concurrency',
  keyOverrides: '--override',
  rate: '--rate',
  keyRate: '--key-rate',
  order: '--order',
};

/** `offload limits [queue]`, `limits set <queue>`, `limits clear <queue>`: a queue's flow control. */
export function registerLimitsCommands(program: Command, globals: () => GlobalFlags): void {
  const limits = program
    .command('limits [queue]')
    .description(
      "show a queue's flow control and what it holds back now (every limited queue without a name); set or clear its runtime limits",
    )
    .action((queueName: string | undefined) =>
      withQueue(globals, {}, (queue, context) =>
        queueName === undefined ? showAll(queue, context) : showOne(queue, context, queueName),
      ),
    );

  limits
    .command('set <queue>')
    .description(
      "set a queue's runtime limits for every worker: they replace the limits its tasks declare, whole, until `offload limits clear`",
    )
    .option(
      '--concurrency <n>',
      'jobs of the queue running at once',
      intOption('--concurrency', 1, MAX_CONCURRENCY_LIMIT),
    )
    .option(
      '--key-concurrency <n>',
      'jobs of one key running at once',
      intOption('--key-concurrency', 1, MAX_CONCURRENCY_LIMIT),
    )
    .option(
      '--override <key=n>',
      'the concurrency of one key instead of --key-concurrency, repeatable',
      overrideOption,
      [],
    )
    .option(
      '--rate <n/window>',
      'starts of the queue per window, e.g. 50/1s or 1000/1h',
      rateOption('--rate'),
    )
    .option(
      '--key-rate <n/window>',
      'starts of one key per window, e.g. 10/1m',
      rateOption('--key-rate'),
    )
    .option(
      '--order <order>',
      "fair: claims rotate over keys (and a key can be held) with no other limit; strict: a key's jobs one at a time, in enqueue order",
    )
    .option('--none', 'no limits at all while set, whatever the tasks declare')
    .action((queueName: string, flags: SetFlags) =>
      withQueue(globals, {}, async (queue, context) => {
        const state = await setLimits(queue, queueName, limitsFromFlags(flags));
        if (context.json) return printJson(state ?? null);
        print(`runtime limits of ${queueName} set: ${limitsLine(state!.limits)}`);
        print(liveLine(state!, Date.now()));
      }),
    );

  limits
    .command('clear <queue>')
    .description("clear a queue's runtime limits: the limits its tasks declare apply again")
    .action((queueName: string) =>
      withQueue(globals, {}, async (queue, context) => {
        const state = await queue.setLimits(queueName, null);
        if (context.json) return printJson(state ?? null);
        print(
          state
            ? `runtime limits of ${queueName} cleared; its declared limits apply: ${limitsLine(state.limits)}`
            : `runtime limits of ${queueName} cleared; it has no limits now`,
        );
      }),
    );
}

async function showOne(queue: Queue, context: CommandContext, queueName: string): Promise<void> {
  const state = await queue.getLimits(queueName);
  if (context.json) return printJson(state ?? null);
  print(
    state
      ? limitsReport(state, Date.now())
      : `queue ${queueName} has no limits: set some with \`offload limits set ${queueName} --concurrency 5\`, or declare them on its tasks`,
  );
}

async function showAll(queue: Queue, context: CommandContext): Promise<void> {
  const states = await queue.listLimits();
  if (context.json) return printJson(states);
  print(
    states.length
      ? queueLimitsLines(states, Date.now())
      : 'no queue has limits: offload limits set <queue> --concurrency 5',
  );
}

/** Stores the limits, naming the flag a refused value came from. */
async function setLimits(
  queue: Queue,
  queueName: string,
  limits: QueueLimitsInput,
): Promise<LimitsState | undefined> {
  try {
    return await queue.setLimits(queueName, limits);
  } catch (error) {
    const field = error instanceof OffloadError ? String(error.details.option ?? '') : '';
    const flag = FLAG_OF[field.split('.')[0]!];
    if (!flag) throw error;
    throw new OffloadError(
      (error as OffloadError).code,
      `${flag}: ${(error as OffloadError).message.replace(/^setLimits: /, '')}`,
      { details: { ...(error as OffloadError).details, flag }, cause: error },
    );
  }
}

function limitsFromFlags(flags: SetFlags): QueueLimitsInput {
  const limits: QueueLimitsInput = {};
  if (flags.concurrency !== undefined) limits.concurrency = flags.concurrency;
  if (flags.keyConcurrency !== undefined) limits.keyConcurrency = flags.keyConcurrency;
  if (flags.override.length) limits.keyOverrides = Object.fromEntries(flags.override);
  if (flags.rate) limits.rate = flags.rate;
  if (flags.keyRate) limits.keyRate = flags.keyRate;
  if (flags.order !== undefined) limits.order = flags.order as 'fair' | 'strict';
  const given = Object.keys(limits).length > 0;
  if (flags.none && given) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      '--none lifts every limit, so it takes no other limit flag; leave out the others or --none',
    );
  }
  if (!flags.none && !given) {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      'give at least one limit: --concurrency, --key-concurrency, --override, --rate, --key-rate, --order (or --none for no limits)',
    );
  }
  return limits;
}

function overrideOption(value: string, previous: Array<[string, number]>): Array<[string, number]> {
  const at = value.lastIndexOf('=');
  const limit = Number(value.slice(at + 1));
  if (at < 1 || value.slice(at + 1) === '' || !Number.isInteger(limit)) {
    throw new InvalidArgumentError(
      `--override takes key=n, a key and its concurrency as a whole number, e.g. --override acme=10; got "${value}"`,
    );
  }
  return [...previous, [value.slice(0, at), limit]];
}

/** `50/1s`, `10/m`, `100/250ms`, `5/2000` (milliseconds): a limit and its window. */
function rateOption(flag: string): (value: string) => RateWindowInput {
  return (value) => {
    const match = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(value);
    if (!match) {
      throw new InvalidArgumentError(
        `${flag} takes n/window, starts per window, e.g. ${flag} 50/1s or 1000/1h; got "${value}"`,
      );
    }
    const window = match[2]!;
    const per = /^\d+$/.test(window)
      ? Number(window)
      : /^(ms|s|m|h|d)$/.test(window)
        ? `1${window}`
        : window;
    return { limit: Number(match[1]), per };
  };
}
