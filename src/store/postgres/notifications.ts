import type { SerializedError } from '../../core/errors.ts';
import type { JobEvent, StoreEvents } from '../contract.ts';

/** One event decoded from a notification, ready to emit. */
export type DecodedEvent = {
  [E in keyof StoreEvents]: { name: E; payload: StoreEvents[E] };
}[keyof StoreEvents];

type Item = [id: string, queue: string, task: string, attempt: number, ...rest: unknown[]];

/** Origin and kind of a notification, read without parsing the rest; null when it is not one of ours. */
export function notificationHead(text: string): { origin: string; kind: string } | null {
  const match = /^\["([^"\\]*)",\s*"([a-z]+)"/.exec(text);
  return match ? { origin: match[1]!, kind: match[2]! } : null;
}

/**
 * Decodes a notification `[origin, kind, items]` sent by queries.ts. Returns null for one of this
 * store's own (already emitted when it happened) and for anything it does not understand.
 */
export function decodeNotification(
  text: string,
  ownOrigin: string,
  now: number,
): DecodedEvent[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || !Array.isArray(parsed[2])) return null;
  const [origin, kind, items] = parsed as [string, string, Item[]];
  if (origin === ownOrigin) return null;
  const events: DecodedEvent[] = [];
  for (const item of items) {
    if (kind === 'st' || kind === 'ok') decodeGroup(kind, item, events);
    else {
      const event = decodeItem(kind, item, now);
      if (event) events.push(event);
    }
  }
  return events;
}

/** A grouped item `[queue, task, ids, attempts]` of starts (`st`) or successes (`ok`). */
function decodeGroup(kind: 'st' | 'ok', item: unknown, events: DecodedEvent[]): void {
  if (!Array.isArray(item) || !Array.isArray(item[2]) || !Array.isArray(item[3])) return;
  const [queue, task, ids, attempts] = item as [string, string, string[], number[]];
  for (let i = 0; i < ids.length; i++) {
    const event: JobEvent = {
      id: String(ids[i]),
      queue,
      task,
      state: kind === 'st' ? 'running' : 'succeeded',
      attempt: Number(attempts[i]),
    };
    events.push(
      kind === 'st'
        ? { name: 'job:started', payload: event }
        : { name: 'job:succeeded', payload: event },
    );
  }
}

function decodeItem(kind: string, item: Item, now: number): DecodedEvent | undefined {
  if (!Array.isArray(item)) return undefined;
  const base = (state: JobEvent['state']): JobEvent => ({
    id: item[0],
    queue: item[1],
    task: item[2],
    state,
    attempt: item[3],
  });
  switch (kind) {
    case 'enq':
      return {
        name: 'job:enqueued',
        payload: base(Number(item[4]) > now ? 'scheduled' : 'queued'),
      };
    case 'start':
      return { name: 'job:started', payload: base('running') };
    case 'prog':
      return { name: 'job:progress', payload: { ...base('running'), progress: item[4] ?? null } };
    case 'cancel':
      return { name: 'job:cancelled', payload: base('cancelled') };
    case 'upd':
      return {
        name: 'job:updated',
        payload: {
          ...base(Number(item[4]) > now ? 'scheduled' : 'queued'),
          runAt: Number(item[4]),
        },
      };
    case 'rm':
      return { name: 'job:removed', payload: base(item[4] as JobEvent['state']) };
    case 'out':
      return decodeOutcome(item, base);
    default:
      return undefined;
  }
}

function decodeOutcome(
  item: Item,
  base: (state: JobEvent['state']) => JobEvent,
): DecodedEvent | undefined {
  const [, , , , kind, error, runAt] = item;
  const serialized = stripAttempt(error);
  switch (kind) {
    case 'succeeded':
      return { name: 'job:succeeded', payload: base('succeeded') };
    case 'failed':
      return { name: 'job:failed', payload: { ...base('failed'), error: serialized } };
    case 'retry':
      return {
        name: 'job:retrying',
        payload: { ...base('scheduled'), error: serialized, runAt: Number(runAt) },
      };
    case 'recovered':
      return {
        name: 'job:retrying',
        payload: { ...base('queued'), error: serialized, runAt: Number(runAt) },
      };
    case 'requeue':
    case 'limited':
      return { name: 'job:enqueued', payload: base('queued') };
    default:
      return undefined;
  }
}

function stripAttempt(error: unknown): SerializedError {
  if (typeof error !== 'object' || error === null)
    return { name: 'Error', message: 'unknown error' };
  const rest: SerializedError & { attempt?: number } = {
    ...(error as SerializedError & { attempt?: number }),
  };
  delete rest.attempt;
  return rest;
}
