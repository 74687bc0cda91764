import { ErrorCodes, OffloadError } from '../core/errors.ts';
import type { JobOutcome } from './contract.ts';

const KINDS = ['succeeded', 'failed', 'snoozed', 'rateLimited', 'released', 'started'];

/**
 * Checks every outcome of a `jobRecordOutcomes` call before a store writes any: a known kind, a
 * lease with a whole attempt, a string result, an error object, run-at times that are safe
 * integers, string-or-null run facts. Throws ERR_INVALID_OPTION naming the first invalid outcome
 * and its field, so the call is refused whole and nothing is written.
 */
export function checkOutcomes(outcomes: readonly JobOutcome[]): void {
  if (!Array.isArray(outcomes))
    throw invalid('`outcomes` must be an array of job outcomes', 'outcomes');
  outcomes.forEach((outcome, index) => {
    const problem = outcomeProblem(outcome);
    if (!problem) return;
    const id = (outcome as { lease?: { id?: unknown } } | null)?.lease?.id;
    throw invalid(
      `jobRecordOutcomes: outcome ${index} (job ${String(id)}) ${problem.message}; nothing of this call was written`,
      `outcomes[${index}]${problem.field ? `.${problem.field}` : ''}`,
    );
  });
}

function outcomeProblem(outcome: JobOutcome): { field: string; message: string } | undefined {
  if (typeof outcome !== 'object' || outcome === null)
    return { field: '', message: 'is not an object' };
  const { kind } = outcome as { kind: unknown };
  if (typeof kind !== 'string' || !KINDS.includes(kind))
    return {
      field: 'kind',
      message: `has kind ${describe(kind)}; it must be one of ${KINDS.join(', ')}`,
    };
  const lease = outcome.lease as unknown as Record<string, unknown> | undefined;
  if (typeof lease !== 'object' || lease === null)
    return { field: 'lease', message: 'has no lease' };
  if (typeof lease['id'] !== 'string' || typeof lease['workerId'] !== 'string')
    return { field: 'lease', message: 'has a lease without a string id and workerId' };
  if (!Number.isSafeInteger(lease['attempt']))
    return {
      field: 'lease.attempt',
      message: `has lease.attempt ${describe(lease['attempt'])}; it must be a whole number`,
    };
  if (!Number.isSafeInteger(lease['fence']))
    return {
      field: 'lease.fence',
      message: `has lease.fence ${describe(lease['fence'])}; it must be the whole number its claim gave`,
    };
  return kindProblem(outcome) ?? factsProblem(outcome);
}

function kindProblem(outcome: JobOutcome): { field: string; message: string } | undefined {
  switch (outcome.kind) {
    case 'succeeded':
      return typeof outcome.result === 'string'
        ? undefined
        : {
            field: 'result',
            message: `has result ${describe(outcome.result)}; it must be JSON text (a string)`,
          };
    case 'failed':
      if (typeof outcome.error !== 'object' || outcome.error === null)
        return {
          field: 'error',
          message: `has error ${describe(outcome.error)}; it must be a serialized error`,
        };
      return outcome.retryAt === null ? undefined : timeProblem('retryAt', outcome.retryAt);
    case 'snoozed':
    case 'rateLimited':
      return timeProblem('runAt', outcome.runAt);
    case 'released':
    case 'started':
      return undefined;
  }
}

function timeProblem(
  field: string,
  value: unknown,
): { field: string; message: string } | undefined {
  if (Number.isSafeInteger(value)) return undefined;
  return {
    field,
    message: `has ${field} ${describe(value)}; it must be a time in epoch milliseconds (a safe integer)`,
  };
}

function factsProblem(outcome: JobOutcome): { field: string; message: string } | undefined {
  for (const field of ['placement', 'outputTail', 'progress'] as const) {
    const value = outcome[field];
    if (value !== undefined && value !== null && typeof value !== 'string')
      return { field, message: `has ${field} ${describe(value)}; it must be a string or null` };
  }
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    value === undefined ||
    value === null
  )
    return String(value);
  return `of type ${typeof value}`;
}

function invalid(message: string, option: string): OffloadError {
  return new OffloadError(ErrorCodes.INVALID_OPTION, message, {
    details: { label: 'jobRecordOutcomes', option },
  });
}
