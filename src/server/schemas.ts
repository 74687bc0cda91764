/**
 * The API's request and response shapes, in one place: handlers parse with them and
 * `/v1/openapi.json` is generated from them, so the document cannot drift from the code.
 */
import { z } from 'zod';
import { queueLimitsSchema } from '../core/flow-limits.ts';
import { JOB_STATES, type JobState } from '../core/job.ts';
import { LIMITS } from '../core/limits.ts';
import { flowKeyProblem, MAX_KEY_LENGTH } from '../core/flow-limits.ts';
import { isRunAt, optionSchemas } from '../core/options.ts';
import { MAX_META_BYTES, MAX_TAG_LENGTH, MAX_TAGS, tagProblem } from '../core/job-meta.ts';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a duration written `250ms`, `30s`, `5m`, `1h`, or a bare number in `defaultUnit`. */
export function parseDuration(text: string, defaultUnit: keyof typeof UNIT_MS): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Math.round(
    Number(match[1]) * UNIT_MS[(match[2] as keyof typeof UNIT_MS | undefined) ?? defaultUnit],
  );
}

function duration(defaultUnit: keyof typeof UNIT_MS, max: number, maxWords = `${max / 1000} s`) {
  const hint = `a duration such as 500ms, 30s or 5m (a bare number means ${defaultUnit === 'ms' ? 'milliseconds' : 'seconds'}), at most ${maxWords}`;
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms =
        typeof value === 'number'
          ? Number.isFinite(value) && value >= 0
            ? Math.round(value * UNIT_MS[defaultUnit])
            : undefined
          : parseDuration(value, defaultUnit);
      if (ms === undefined || ms > max) {
        ctx.addIssue({ code: 'custom', message: `must be ${hint}` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: hint });
}

export const jobIdSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/, 'must be a job id: a whole number as returned by POST /v1/jobs');

export const jobStateSchema = z.enum(JOB_STATES as [JobState, ...JobState[]]);

const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces');

/** An ISO 8601 date-time from 1970 through 9999-12-31 UTC, the range of `runAt` in epoch ms too. */
const isoRunAt = z.iso
  .datetime({ offset: true })
  .refine(
    (value) => isRunAt(Date.parse(value)),
    'must be a date-time from 1970-01-01 through 9999-12-31 UTC',
  );

const flowKey = z
  .string()
  .max(MAX_KEY_LENGTH)
  .superRefine((key, ctx) => {
    const problem = flowKeyProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** One tag as a query or filter field: 1-64 characters without control characters. */
const tagFilter = z
  .string()
  .superRefine((tag, ctx) => {
    const problem = tagProblem(tag);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ description: 'Only jobs carrying this tag' });

/**
 * `meta` and `tags` of an enqueue are checked by the queue (ERR_INVALID_META, 422 naming the field),
 * so the body schema takes any value and only documents their shape.
 */
const metaField = z
  .unknown()
  .optional()
  .meta({
    type: 'object',
    description: `Small facts about the job (a trace context, a tenant): a JSON object of at most ${MAX_META_BYTES} bytes of JSON. Default {}.`,
  });
const tagsField = z
  .unknown()
  .optional()
  .meta({
    type: 'array',
    items: { type: 'string', minLength: 1, maxLength: MAX_TAG_LENGTH },
    maxItems: MAX_TAGS,
    description: `Labels to find the job by (GET /v1/jobs?tag=): at most ${MAX_TAGS} strings of 1-${MAX_TAG_LENGTH} characters without control characters; duplicates are dropped. Default [].`,
  });

/** The `Idempotency-Key` header of `POST /v1/jobs`. */
export const idempotencyKeySchema = idempotencyKey.optional();

/** One job to enqueue. Everything but `task` defaults to the task's own settings. */
export const enqueueBodySchema = z
  .strictObject({
    task: z
      .string()
      .min(1)
      .max(200)
      .meta({ description: 'Name of a registered task (GET /v1/tasks).' }),
    payload: z.unknown().optional().meta({
      description: 'JSON payload; checked against the task schema when it has one. Default null.',
    }),
    queue: optionSchemas.name.optional(),
    priority: optionSchemas.priority.optional(),
    delay: duration('ms', LIMITS.delayMs, `${LIMITS.delayMs} ms (100 years)`).optional(),
    runAt: z
      .union([isoRunAt, optionSchemas.runAtMs], {
        message:
          'must be an ISO 8601 date-time or epoch milliseconds, from 1970 through 9999-12-31',
      })
      .optional()
      .meta({
        description:
          'Earliest start: an ISO 8601 date-time or epoch milliseconds, from 1970 through 9999-12-31. Overrides delay.',
      }),
    uniqueKey: optionSchemas.uniqueKey.optional(),
    attempts: optionSchemas.attempts.optional(),
    timeout: duration('ms', LIMITS.timerMs, `${LIMITS.timerMs} ms (about 24.8 days)`).optional(),
    callbackUrl: optionSchemas.callbackUrl
      .optional()
      .meta({ description: 'POSTed a signed outcome when the job ends (see docs/webhooks.md).' }),
    key: flowKey.optional().meta({
      description:
        "The flow key (a tenant, an account) its queue's per-key limits and fair rotation go by (docs/flow-control.md). Default: the task's key function on the payload, when the server knows the task's definition.",
    }),
    meta: metaField,
    tags: tagsField,
  })
  .meta({ id: 'EnqueueRequest' });

/** Changes to a job that has not started (`PATCH /v1/jobs/{id}`); absent fields are kept. */
export const jobUpdateBodySchema = z
  .strictObject({
    runAt: enqueueBodySchema.shape.runAt,
    delay: enqueueBodySchema.shape.delay.meta({
      description:
        'Wait this long from now before the job may run: milliseconds, or a duration such as 30s or 5m. runAt overrides it.',
    }),
    priority: enqueueBodySchema.shape.priority,
    payload: z.unknown().optional().meta({
      description:
        'The new JSON payload (null is a payload); checked against the task schema when the server knows the task.',
    }),
  })
  .refine((body) => Object.keys(body).length > 0, {
    message: 'must change something: runAt, delay, priority or payload',
  })
  .meta({ id: 'JobUpdateRequest' });

export const enqueueBatchBodySchema = z
  .strictObject({
    jobs: z
      .array(enqueueBodySchema.extend({ idempotencyKey: idempotencyKey.optional() }))
      .min(1, 'must hold at least one job')
      .max(1000, 'must hold at most 1000 jobs'),
  })
  .meta({ id: 'EnqueueBatchRequest' });

export const getJobQuerySchema = z.strictObject({ wait: duration('s', 60_000).optional() });

export const listJobsQuerySchema = z.strictObject({
  queue: optionSchemas.name.optional(),
  state: jobStateSchema.optional(),
  task: optionSchemas.name.optional(),
  tag: tagFilter.optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(1000).optional(),
  cursor: z
    .string()
    .regex(/^[0-9]{1,18}$/, 'must be the nextCursor of a previous page')
    .optional(),
});

export const queueNameParamsSchema = z.strictObject({ name: optionSchemas.name });
export const jobIdParamsSchema = z.strictObject({ id: jobIdSchema });

const isoTime = z.string().meta({ description: 'ISO 8601 date-time' });
const errorSchema = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().optional(),
  code: z.string().optional(),
  attempt: z.number(),
});

export const jobViewSchema = z
  .object({
    id: z.string(),
    task: z.string(),
    queue: z.string(),
    state: jobStateSchema,
    priority: z.number(),
    attempts: z.number(),
    maxAttempts: z.number(),
    timeoutMs: z.number(),
    uniqueKey: z.string().nullable(),
    key: z.string().nullable().meta({ description: 'The flow key, or null' }),
    payload: z.unknown(),
    progress: z.unknown(),
    result: z.unknown(),
    error: errorSchema.nullable(),
    errors: z
      .array(
        z.object({
          attempt: z.number(),
          at: isoTime,
          name: z.string(),
          message: z.string(),
          code: z.string().optional(),
        }),
      )
      .meta({
        description:
          'Every failed attempt, oldest first (the last 20): message (cut at 1 000 characters), code and time; no stacks',
      }),
    worker: z.string().nullable().meta({
      description: 'host:pid:id of the worker holding the lease while claimed or running',
    }),
    placement: z.string().nullable().meta({
      description:
        'Where the last run ran and why, e.g. "thread: auto: a run holds the event loop for 12.0 ms…"; null before a run records it',
    }),
    outputTail: z.string().nullable().meta({
      description:
        "The last 4 KiB the last run wrote to stdout and stderr, kept for process-mode runs ('' when it wrote nothing); null in other modes",
    }),
    meta: z
      .record(z.string(), z.unknown())
      .meta({ description: 'The meta set at enqueue; {} when none' }),
    tags: z.array(z.string()).meta({ description: 'The tags set at enqueue; [] when none' }),
    idempotencyKey: z.string().nullable(),
    callbackUrl: z.string().nullable(),
    webhook: z
      .object({
        id: z.string(),
        state: jobStateSchema,
        attempts: z.number(),
        maxAttempts: z.number(),
        lastError: z.string().nullable(),
        link: z.string(),
      })
      .nullable()
      .meta({
        description:
          'The signed delivery of the outcome to callbackUrl, once the job has ended (GET /v1/jobs/{id} only)',
      }),
    runAt: isoTime,
    createdAt: isoTime,
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    links: z.object({
      self: z.string(),
      events: z.string(),
      cancel: z.string(),
      retry: z.string(),
    }),
  })
  .meta({ id: 'Job' });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem' });

export const jobListSchema = z
  .object({ jobs: z.array(jobViewSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'JobList' });
export const jobBatchSchema = z.object({ jobs: z.array(jobViewSchema) }).meta({ id: 'JobBatch' });

/** The body of `PUT /v1/queues/{name}/limits`: the library's own rule for limits. */
export const queueLimitsBodySchema = queueLimitsSchema.meta({
  id: 'QueueLimits',
  description:
    'Flow control of a queue across every worker (docs/flow-control.md); absent fields set no limit',
});

const rateWindowView = z.object({ limit: z.number(), per: z.number() });
const queueLimitsView = z
  .object({
    concurrency: z.number().optional(),
    keyConcurrency: z.number().optional(),
    keyOverrides: z.record(z.string(), z.number()).optional(),
    rate: rateWindowView.optional(),
    keyRate: rateWindowView.optional(),
    order: z.enum(['fair', 'strict']).optional(),
  })
  .meta({ id: 'QueueLimitsStored', description: 'Limits as stored: `per` in milliseconds' });
const tokensView = z
  .object({
    left: z.number().meta({ description: 'Starts the rate window allows now' }),
    nextAt: isoTime
      .nullable()
      .meta({ description: 'When the next start frees; null when one is free now' }),
  })
  .nullable();

export const limitsStateSchema = z
  .object({
    queue: z.string(),
    limits: queueLimitsView.meta({
      description: 'What applies: the runtime layer when set, else the declared one',
    }),
    declared: queueLimitsView
      .nullable()
      .meta({ description: "What the queue's task modules declare" }),
    runtime: queueLimitsView
      .nullable()
      .meta({ description: 'Set at runtime (PUT); replaces the declared layer whole' }),
    running: z
      .number()
      .meta({ description: 'Jobs of the queue holding a slot (running or claimed)' }),
    tokens: tokensView.meta({ description: 'The queue-wide rate window now; null without `rate`' }),
    heldUntil: isoTime
      .nullable()
      .meta({ description: "Until when a task's `ctx.rateLimited` holds the whole queue" }),
    heldBack: z.number().meta({ description: 'Due jobs waiting while a limit holds them back' }),
    keys: z
      .array(
        z.object({
          key: z.string(),
          running: z.number(),
          limit: z.number().nullable(),
          tokens: tokensView,
          heldUntil: isoTime.nullable(),
        }),
      )
      .meta({ description: 'The busiest keys, most running first (at most 20)' }),
  })
  .meta({ id: 'QueueLimitsState' });

const countsSchema = z.object(Object.fromEntries(JOB_STATES.map((state) => [state, z.number()])));
export const queueListSchema = z
  .object({
    queues: z.array(
      z.object({
        name: z.string(),
        paused: z.boolean(),
        counts: countsSchema,
        limits: limitsStateSchema.nullable().meta({
          description: 'Its flow control and what it holds back now; null when it has none',
        }),
      }),
    ),
  })
  .meta({ id: 'QueueList' });

export const taskListSchema = z
  .object({
    tasks: z.array(
      z.object({
        name: z.string(),
        queue: z.string(),
        mode: z.string(),
        attempts: z.number(),
        priority: z.number(),
        timeout: z.number(),
        payloadSchema: z.unknown().meta({
          description:
            'JSON Schema of the payload, when the task declares one this server can describe',
        }),
        example: z.unknown(),
      }),
    ),
  })
  .meta({ id: 'TaskList' });

export const healthSchema = z
  .object({ status: z.enum(['ok', 'degraded']), store: z.string(), uptimeSeconds: z.number() })
  .meta({ id: 'Health' });

export const workerListSchema = z
  .object({
    workers: z.array(
      z.object({
        id: z.string(),
        host: z.string(),
        pid: z.number(),
        modes: z.array(z.string()),
        queues: z.array(z.string()),
        running: z.number(),
        startedAt: isoTime,
        lastHeartbeat: isoTime,
        alive: z.boolean(),
      }),
    ),
  })
  .meta({ id: 'WorkerList' });

export const modesSchema = z
  .object({
    measuredAt: z.string().nullable(),
    machine: z.unknown(),
    rows: z.array(
      z.object({
        id: z.string(),
        group: z.string(),
        name: z.string(),
        placement: z.string(),
        median: z.number().nullable().meta({ description: 'nanoseconds per operation' }),
        p25: z.number().nullable(),
        p75: z.number().nullable(),
        reason: z.string().optional(),
      }),
    ),
    chart: z.string().optional(),
  })
  .meta({ id: 'Modes' });

const bulkFilterBody = z
  .strictObject({
    queue: optionSchemas.name.optional(),
    task: optionSchemas.name.optional(),
    state: jobStateSchema
      .optional()
      .meta({ description: 'One the action applies to; default every state it applies to' }),
    tag: tagFilter.optional(),
    errorCode: z
      .string()
      .min(1)
      .max(200)
      .nullable()
      .optional()
      .meta({ description: "The code of the job's last error; null: an error without a code" }),
    errorMessage: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .meta({ description: "The message of the job's last error, whole" }),
    createdBefore: z
      .union([isoRunAt, optionSchemas.runAtMs], {
        message: 'must be an ISO 8601 date-time or epoch milliseconds',
      })
      .optional()
      .meta({ description: 'Only jobs created before this time' }),
    olderThan: duration('ms', LIMITS.delayMs, `${LIMITS.delayMs} ms (100 years)`)
      .optional()
      .meta({ description: 'Only jobs created longer ago than this, such as 1h' }),
  })
  .meta({
    id: 'BulkFilter',
    description: 'Every field given must match.',
  });

/** The body of `POST /v1/jobs/bulk`. */
export const bulkBodySchema = z
  .strictObject({
    action: z.enum(['retry', 'cancel', 'delete']).meta({
      description:
        'retry: failed or cancelled jobs, each with a fresh attempt budget; cancel: jobs that have not ended; delete: jobs that ended or have not started',
    }),
    filter: bulkFilterBody.optional(),
    all: z
      .boolean()
      .optional()
      .meta({ description: 'Confirms a filter that matches every job; refused without it (422)' }),
  })
  .meta({ id: 'BulkRequest' });

export const bulkIdParamsSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, 'must be a bulk action id, as POST /v1/jobs/bulk returns'),
});

export const bulkViewSchema = z
  .object({
    id: z.string(),
    action: z.enum(['retry', 'cancel', 'delete']),
    filter: z.record(z.string(), z.unknown()).meta({
      description: 'The filter as stored; an age is stored as createdBefore (epoch ms)',
    }),
    state: z.enum(['running', 'done', 'interrupted']),
    matched: z.number().meta({ description: 'Jobs that matched when the action began' }),
    done: z.number().meta({ description: 'Jobs changed so far' }),
    skipped: z.number().meta({
      description:
        'Jobs reached but left alone: their state moved on, or another unfinished job holds their unique key',
    }),
    error: z.string().nullable().meta({ description: 'Why it was interrupted' }),
    createdAt: isoTime,
    updatedAt: isoTime,
    finishedAt: isoTime.nullable(),
    links: z.object({ self: z.string() }),
  })
  .meta({ id: 'BulkAction' });

export const deadLettersQuerySchema = z.strictObject({
  queue: optionSchemas.name.optional(),
  task: optionSchemas.name.optional(),
  limit: z.coerce.number().int('must be a whole number').min(1).max(1000).optional(),
});

export const deadLetterListSchema = z
  .object({
    groups: z.array(
      z.object({
        task: z.string(),
        errorCode: z.string().nullable(),
        errorMessage: z.string().meta({
          description: "The group's message (groups without a code), else its newest job's",
        }),
        count: z.number(),
        firstSeen: isoTime,
        lastSeen: isoTime,
        lastJobId: z.string(),
        filter: z.record(z.string(), z.unknown()).meta({
          description: 'Send it as the filter of a bulk retry (action retry) to redrive the group',
        }),
      }),
    ),
  })
  .meta({ id: 'DeadLetterList' });
