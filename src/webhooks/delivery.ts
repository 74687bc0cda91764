import type { Backoff } from '../core/backoff.ts';
import { PermanentFailure } from '../core/errors.ts';
import { FINISHED_STATES, type Job } from '../core/job.ts';
import { WEBHOOK_ATTEMPTS, WEBHOOK_QUEUE, WEBHOOK_TASK, type Store } from '../store/contract.ts';
import { defineTask } from '../task/define-task-node.ts';
import type { Task, TaskContext } from '../task/task.ts';
import {
  SIGNATURE_HEADER,
  WEBHOOK_ID_HEADER,
  signWebhook,
  type WebhookPayload,
} from './signature.ts';

export interface WebhookTaskOptions {
  store: Store;
  /** Signs every delivery (see signWebhook). */
  secret: string;
  /** Delay before a failed delivery is tried again. Default: 1 s doubling, capped at 1 h, with jitter. */
  backoff?: Backoff;
  /** How long the receiver has to answer (ms). Default 10 000. */
  requestTimeout?: number;
}

/** What a delivery job records as its result. */
export interface DeliveryResult {
  status: number;
  url: string;
}

const ANSWER_SNIPPET = 200;

/**
 * The built-in `offload.webhook` task: POSTs the outcome of the job named in its payload to that
 * job's callback URL, signed. A 2xx answer is delivered; 4xx other than 408 and 429 fails for good;
 * anything else (5xx, 3xx, 408, 429, a network error, no answer in time) throws, so the delivery
 * job retries with backoff up to its attempts (8).
 */
export function createWebhookTask(
  options: WebhookTaskOptions,
): Task<{ jobId: string }, DeliveryResult> {
  return defineTask({
    name: WEBHOOK_TASK,
    queue: WEBHOOK_QUEUE,
    mode: 'inline',
    attempts: WEBHOOK_ATTEMPTS,
    backoff: options.backoff,
    run: (payload: { jobId: string }, ctx) => deliver(options, String(payload?.jobId), ctx),
  });
}

async function deliver(
  options: WebhookTaskOptions,
  jobId: string,
  ctx: TaskContext,
): Promise<DeliveryResult> {
  const job = await options.store.jobGet({ id: jobId });
  if (!job?.callbackUrl)
    throw new PermanentFailure(
      `job ${jobId} no longer exists or has no callback URL (deleted by retention?); nothing to deliver`,
    );
  if (!FINISHED_STATES.includes(job.state)) {
    throw new PermanentFailure(
      `job ${jobId} was retried and is ${job.state} again; its next end makes a new delivery`,
    );
  }
  const url = job.callbackUrl;
  const body = JSON.stringify(webhookPayloadOf(job));
  const timestamp = Math.floor(options.store.clock.now() / 1000);
  const timeout = options.requestTimeout ?? 10_000;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'offload-webhook',
        [SIGNATURE_HEADER]: signWebhook({ secret: options.secret, body, timestamp }),
        [WEBHOOK_ID_HEADER]: ctx.job.id,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeout)]),
    });
  } catch (error) {
    throw new Error(`POST ${url} ${describeFetchError(error, timeout)}; will retry`, {
      cause: error,
    });
  }
  const answer = await readSnippet(response);
  if (response.status >= 200 && response.status < 300) return { status: response.status, url };
  const said = `the receiver at ${url} answered ${response.status}${answer ? `: ${answer}` : ''}`;
  if (
    response.status >= 400 &&
    response.status < 500 &&
    response.status !== 408 &&
    response.status !== 429
  ) {
    throw new PermanentFailure(`${said} (a 4xx answer other than 408 or 429 is not retried)`);
  }
  throw new Error(`${said}; will retry`);
}

/** The body of a delivery: the job's outcome, without payload, progress or stack traces. */
export function webhookPayloadOf(job: Job): WebhookPayload {
  const error = job.error && {
    name: job.error.name,
    message: job.error.message,
    ...(job.error.code ? { code: job.error.code } : {}),
    attempt: job.error.attempt,
  };
  return {
    id: job.id,
    task: job.task,
    queue: job.queue,
    state: job.state as WebhookPayload['state'],
    result: job.result,
    error,
    attempts: job.attempts,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
  };
}

function describeFetchError(error: unknown, timeout: number): string {
  const name = (error as Error)?.name;
  if (name === 'TimeoutError') return `got no answer within ${timeout} ms`;
  if (name === 'AbortError')
    return 'was aborted (the delivery job was cancelled or the worker stopped)';
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return `failed: ${cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error)}`;
}

async function readSnippet(response: Response): Promise<string> {
  try {
    const text = await response.text();
    return text.length > ANSWER_SNIPPET ? `${text.slice(0, ANSWER_SNIPPET)}…` : text;
  } catch {
    return '';
  }
}
