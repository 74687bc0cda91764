/**
 * How pool messages cross a child process's IPC channel. The channel runs in `json` mode, which
 * costs a few µs a message where Node's `advanced` mode costs 10–15 µs (it builds a V8 serializer
 * per message). A message whose values JSON carries exactly goes as it is; any other (a Buffer, a
 * Map, a Date, a BigInt, NaN, a cycle…) goes whole as V8 structured serialisation in base64, so
 * results and errors keep structured-clone semantics either way.
 */
import v8 from 'node:v8';
import type { ChildMessage, ParentMessage, WireError } from './shared/protocol.ts';
import { packTaskMessage, unpackTaskMessage } from './task-messages.ts';

/** A message that JSON could not carry exactly. */
interface StructuredEnvelope {
  t: 'v8';
  data: string;
}

/** Most nodes a message may have and still be checked for JSON; beyond it, it goes structured. */
const NODE_BUDGET = 100_000;
const MAX_DEPTH = 64;

/** Makes `message` fit a `json` IPC channel; throws (DataCloneError) if it cannot be cloned at all. */
export function toProcessWire(message: ParentMessage | ChildMessage): object {
  if (!fitsJson(message))
    return { t: 'v8', data: v8.serialize(message).toString('base64') } satisfies StructuredEnvelope;
  return packTaskMessage(message);
}

/** Reverses {@link toProcessWire}. */
export function fromProcessWire<T extends ParentMessage | ChildMessage>(wire: unknown): T {
  if (Array.isArray(wire)) return unpackTaskMessage(wire) as T;
  const envelope = wire as Partial<StructuredEnvelope> | null;
  if (envelope?.t === 'v8' && typeof envelope.data === 'string')
    return v8.deserialize(Buffer.from(envelope.data, 'base64')) as T;
  return wire as T;
}

/**
 * Whether JSON carries every value of a message exactly. The protocol's own optional fields may
 * be `undefined` (JSON drops them, and a missing field reads the same); user data may not.
 */
function fitsJson(message: ParentMessage | ChildMessage): boolean {
  // Plain loops and no closures: this runs twice per task on the hot path.
  const budget = { nodes: NODE_BUDGET };
  switch (message.t) {
    case 'run':
      for (const task of message.tasks) {
        if (
          !field(task.payload, budget) ||
          !field(task.job, budget) ||
          !exact(task.timeout, 0, budget)
        )
          return false;
      }
      return true;
    case 'done':
      for (const reply of message.replies)
        if (!(reply.ok ? field(reply.value, budget) : wireError(reply.error, budget))) return false;
      for (const [, value] of message.progress ?? []) if (!exact(value, 0, budget)) return false;
      return true;
    case 'init-error':
    case 'fatal':
      return wireError(message.error, budget);
    case 'ready':
    case 'started':
      return exact(message, 0, budget);
    default:
      return true;
  }
}

/** A protocol field: absent (`undefined`) or JSON-exact. */
function field(value: unknown, budget: { nodes: number }): boolean {
  return value === undefined || exact(value, 0, budget);
}

function wireError(error: WireError, budget: { nodes: number }): boolean {
  return field(error.props, budget);
}

/** Whether `JSON.parse(JSON.stringify(value))` gives back what a structured clone would. */
function exact(value: unknown, depth: number, budget: { nodes: number }): boolean {
  if (--budget.nodes < 0 || depth > MAX_DEPTH) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (Array.isArray(value)) {
    if (Object.keys(value).length !== value.length) return false;
    for (const item of value) if (!exact(item, depth + 1, budget)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (
      !Object.hasOwn(value, key) ||
      !exact((value as Record<string, unknown>)[key], depth + 1, budget)
    )
      return false;
  }
  return true;
}
