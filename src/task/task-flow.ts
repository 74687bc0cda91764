/**
 * A task's flow control options (`concurrency`, `rateLimit`, `order`) checked and turned into the
 * flow key function and the {@link QueueLimits} its queue gets. The rules on numbers and windows
 * are those of `parseQueueLimits`, so a task and `queue.setLimits` accept the same limits.
 */
import { closest } from '../core/closest.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { hasLimits, parseQueueLimits, type QueueLimitsInput } from '../core/flow-limits.ts';
import type { QueueLimits } from '../store/contract.ts';

type KeyFunction = (payload: unknown) => string;

/** The flow control of one task: its key function and its queue's limits, each undefined when unset. */
export interface TaskFlow {
  key: KeyFunction | undefined;
  limits: QueueLimits | undefined;
}

const CONCURRENCY_FIELDS = ['limit', 'key', 'global', 'overrides'];
const RATE_FIELDS = ['limit', 'per', 'key'];

/** Where each field of {@link QueueLimits} comes from in a task definition, for error messages. */
const DEFINITION_FIELD: Record<string, string> = {
  concurrency: 'concurrency.global',
  keyConcurrency: 'concurrency.limit',
  keyOverrides: 'concurrency.overrides',
  rate: 'rateLimit',
  keyRate: 'rateLimit',
  order: 'order',
};

/** Checks a definition's flow control options; throws ERR_INVALID_OPTION naming the task and the field. */
export function taskFlow(
  name: string,
  definition: { concurrency?: unknown; rateLimit?: unknown; order?: unknown },
): TaskFlow {
  const concurrency = fields(name, 'concurrency', definition.concurrency, CONCURRENCY_FIELDS);
  const rateLimit = fields(name, 'rateLimit', definition.rateLimit, RATE_FIELDS);
  const key = keyFunction(name, concurrency?.key, rateLimit?.key);
  if (!key) {
    for (const field of ['limit', 'overrides'] as const) {
      if (concurrency?.[field] !== undefined)
        throw invalid(
          name,
          `concurrency.${field}`,
          `is a limit per flow key and needs a key function: add \`concurrency.key: (payload) => payload.accountId\` (or use \`concurrency.global\` for the whole queue)`,
        );
    }
    if (definition.order !== undefined)
      throw invalid(
        name,
        'order',
        'orders the jobs of each flow key and needs a key function: add `concurrency: { key: (payload) => payload.accountId }`',
      );
  }
  const input: QueueLimitsInput = {
    concurrency: concurrency?.global as number | undefined,
    keyConcurrency: concurrency?.limit as number | undefined,
    keyOverrides: concurrency?.overrides as Record<string, number> | undefined,
    order: definition.order as 'fair' | 'strict' | undefined,
  };
  if (rateLimit) {
    const window = { limit: rateLimit.limit, per: rateLimit.per } as QueueLimitsInput['rate'];
    if (rateLimit.key === undefined) input.rate = window;
    else input.keyRate = window;
  }
  const limits = parseLimits(name, input);
  // A key function alone asks for fair rotation over keys and for key holds (`ctx.rateLimited`),
  // which every other limit implies.
  if (key && !hasLimits(limits)) limits.order = 'fair';
  return { key, limits: hasLimits(limits) ? deepFreeze(limits) : undefined };
}

/** An options object of known fields, or undefined when it is left out. */
function fields(
  task: string,
  option: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(task, option, `must be an object with ${known.join(', ')}`);
  for (const field of Object.keys(value)) {
    if (known.includes(field)) continue;
    const guess = closest(field, known);
    throw invalid(
      task,
      `${option}.${field}`,
      `is not an option${guess ? `; did you mean \`${option}.${guess}\`?` : `; ${option} takes ${known.join(', ')}`}`,
    );
  }
  return value as Record<string, unknown>;
}

/** The one key function of a task: a job has one flow key, so both options must name the same one. */
function keyFunction(
  task: string,
  concurrencyKey: unknown,
  rateKey: unknown,
): KeyFunction | undefined {
  for (const [field, value] of [
    ['concurrency.key', concurrencyKey],
    ['rateLimit.key', rateKey],
  ] as const) {
    if (value !== undefined && typeof value !== 'function')
      throw invalid(task, field, 'must be a function (payload) => string');
  }
  if (concurrencyKey !== undefined && rateKey !== undefined && concurrencyKey !== rateKey)
    throw invalid(
      task,
      'rateLimit.key',
      'is not the same function as `concurrency.key`: a job has one flow key, which both limits go by. Define the function once and pass it to both (or give it to one of them only)',
    );
  return (concurrencyKey ?? rateKey) as KeyFunction | undefined;
}

/** `parseQueueLimits`, its messages naming the definition's fields instead of the stored ones. */
function parseLimits(task: string, input: QueueLimitsInput): QueueLimits {
  try {
    return parseQueueLimits(labelOf(task), input);
  } catch (error) {
    if (!(error instanceof OffloadError)) throw error;
    const stored = String(error.details.option ?? '');
    const [head = '', ...rest] = stored.split('.');
    const field = [DEFINITION_FIELD[head] ?? head, ...rest].join('.');
    const message = error.message.replace(`\`${stored}\``, `option \`${field}\``);
    throw new OffloadError(ErrorCodes.INVALID_OPTION, message, {
      details: { label: 'defineTask', task, option: field },
    });
  }
}

function invalid(task: string, option: string, words: string): OffloadError {
  return new OffloadError(
    ErrorCodes.INVALID_OPTION,
    `${labelOf(task)}: option \`${option}\` ${words}`,
    {
      details: { label: 'defineTask', task, option },
    },
  );
}

/** The task is frozen; so are its limits, which every worker serving it writes to the store. */
function deepFreeze<T extends object>(value: T): T {
  for (const item of Object.values(value))
    if (typeof item === 'object' && item !== null) deepFreeze(item as object);
  return Object.freeze(value);
}

function labelOf(task: string): string {
  return `defineTask: task "${task}"`;
}
