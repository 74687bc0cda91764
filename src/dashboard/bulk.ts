import type { ApiBulk, ApiBulkFilter, ApiDeadLetter } from '../client/resources.ts';
import { api } from './api.ts';

export type Bulk = ApiBulk;
export type DeadLetter = ApiDeadLetter;

const VERB = { retry: 'Retried', cancel: 'Cancelled', delete: 'Deleted' } as const;

/**
 * Starts a bulk action on the server (one request, whatever the number of jobs) and follows its
 * progress resource until it ends, reporting each reading to `onProgress`.
 */
export async function runBulk(
  request: { action: Bulk['action']; filter: ApiBulkFilter; all?: boolean },
  onProgress: (bulk: Bulk) => void,
): Promise<Bulk> {
  let bulk = await api<Bulk>('POST', '/v1/jobs/bulk', request);
  onProgress(bulk);
  while (bulk.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 300));
    bulk = await api<Bulk>('GET', bulk.links.self);
    onProgress(bulk);
  }
  return bulk;
}

/** One line about a bulk action, for a status message. */
export function describeBulk(bulk: Bulk): string {
  if (bulk.state === 'running') return `Working: ${bulk.done} of ${bulk.matched} done…`;
  if (bulk.state === 'interrupted')
    return `Interrupted after ${bulk.done} of ${bulk.matched}: ${bulk.error ?? ''}`;
  const skipped = bulk.skipped ? ` (${bulk.skipped} left alone: their state had moved on)` : '';
  return `${VERB[bulk.action]} ${bulk.done} job(s).${skipped}`;
}
