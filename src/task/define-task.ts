/**
 * `defineTask` without Node.js built-ins: options validated with zod, the task frozen and branded.
 */
import { z } from 'zod';
import { optionSchemas, parseOptions } from '../core/options.ts';
import {
  isStandardSchema,
  type InferSchemaInput,
  type InferSchemaOutput,
  type StandardSchemaV1,
} from '../core/schema.ts';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { backoffProblem, type Backoff } from '../core/backoff.ts';
import { TASK_BRAND, type Task, type TaskDefinition, type TaskMode } from './task.ts';
import { taskFlow } from './task-flow.ts';

const taskOptionsSchema = z.object({
  name: optionSchemas.name,
  mode: z
    .enum(['inline', 'thread', 'process', 'auto'], {
      message: "must be 'inline', 'thread', 'process' or 'auto'",
    })
    .optional(),
  isolate: z.boolean().default(false),
  run: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', {
    message: 'must be a function (payload, ctx) => result',
  }),
  timeout: optionSchemas.timerMs.default(0),
  attempts: optionSchemas.attempts.default(3),
  backoff: z
    .custom<Backoff>()
    .superRefine((value, ctx) => {
      const problem = backoffProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    })
    .optional(),
  queue: optionSchemas.name.default('default'),
  priority: optionSchemas.priority.default(0),
  schema: z
    .custom<StandardSchemaV1>(isStandardSchema, {
      message: 'must be a Standard Schema (for example a zod or valibot schema)',
    })
    .optional(),
  example: z.unknown().optional(),
  // Checked by taskFlow, which names the task and the field.
  concurrency: z.unknown().optional(),
  rateLimit: z.unknown().optional(),
  order: z.unknown().optional(),
});

/** The overloads of `defineTask`: the payload type comes from `schema` when there is one, else from `run`. */
export interface DefineTask {
  <S extends StandardSchemaV1, Result>(
    definition: TaskDefinition<InferSchemaOutput<S>, Result> & { schema: S },
  ): Task<InferSchemaInput<S>, Result>;
  <Payload = unknown, Result = unknown>(
    definition: TaskDefinition<Payload, Result>,
  ): Task<Payload, Result>;
}

/** Validates a definition and makes the frozen task; `file` is the module that defined it, when known. */
export function buildTask(
  definition: TaskDefinition<unknown, unknown>,
  file: string | undefined,
): Task {
  const { concurrency, rateLimit, order, ...options } = parseOptions(
    'defineTask',
    taskOptionsSchema,
    definition,
  );
  const flow = taskFlow(options.name, { concurrency, rateLimit, order });
  const task = {
    [TASK_BRAND]: true as const,
    ...options,
    mode: resolveMode(options.name, options.mode, options.isolate),
    run: definition.run,
    backoff: definition.backoff,
    schema: definition.schema,
    example: definition.example,
    key: flow.key,
    limits: flow.limits,
  };
  Object.defineProperty(task, 'file', { value: file, enumerable: false });
  return Object.freeze(task);
}

/** `isolate: true` means a process; asking for another fixed mode beside it is a contradiction. */
function resolveMode(name: string, mode: TaskMode | undefined, isolate: boolean): TaskMode {
  if (!isolate) return mode ?? 'inline';
  if (mode === 'inline' || mode === 'thread') {
    throw new OffloadError(
      ErrorCodes.INVALID_OPTION,
      `defineTask: task "${name}" has isolate: true, which always runs it in a process, and mode: '${mode}'; drop \`mode\` or set mode: 'process'`,
      {
        details: { label: 'defineTask', option: 'mode' },
      },
    );
  }
  return 'process';
}

/**
 * `defineTask` without Node.js: the same validation and the same task, minus `file` (the defining
 * module's path, which only Node's stack traces can tell). What `offload/task` gives browsers.
 */
export const defineTask: DefineTask = (definition: TaskDefinition<unknown, unknown>) =>
  buildTask(definition, undefined);
