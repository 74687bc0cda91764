/**
 * How pool messages cross a child process's IPC channel. The channel runs in `json` mode, which
 * costs a few µs a message where Node's `advanced` mode costs 10–15 µs (it builds a V8 serializer
 * per message). A message whose values JSON carries exactly goes as it is; any other (a Buffer, a
 * Map, a Date, a BigInt, NaN, a cycle…) goes whole as V8 structured serialisation in base64, so
 * results and errors keep structured-clone semantics either way.
 */
import v8 from 'node:v8';
import type { ChildMessage, JobInfo, ParentMessage, TaskReply, TaskRequest, WireError } from './protocol.ts';

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
  if (!fitsJson(message)) return { t: 'v8', data: v8.serialize(message).toString('base64') } satisfies StructuredEnvelope;
  if (message.t === 'run') return packRun(message.tasks);
  if (message.t === 'done') return packDone(message);
  return message;
}

/** Reverses {@link toProcessWire}. */
export function fromProcessWire<T extends ParentMessage | ChildMessage>(wire: unknown): T {
  if (Array.isArray(wire)) return (wire[0] === RUN ? unpackRun(wire) : unpackDone(wire)) as T;
  const envelope = wire as Partial<StructuredEnvelope> | null;
  if (envelope?.t === 'v8' && typeof envelope.data === 'string') return v8.deserialize(Buffer.from(envelope.data, 'base64')) as T;
  return wire as T;
}

/*
 * The two messages of every task go as flat arrays: an idle machine spends about 13 µs more per
 * round trip parsing and building the objects than these arrays (measured with a bare echo child).
 * `run`:  [0, (id, task, timeout, job|null, has payload 0/1, payload|null)...]
 * `done`: [1, heapUsed|null, progress|null, (id, kind, value|error|null, runMs)...], kind 0 error,
 * 1 value, 2 undefined. JSON turns `undefined` into `null` inside arrays, hence the flags.
 */
const RUN = 0;
const DONE = 1;
const RUN_FIELDS = 6;
const DONE_FIELDS = 4;

function packRun(tasks: readonly TaskRequest[]): unknown[] {
  const wire: unknown[] = [RUN];
  for (const task of tasks) wire.push(task.id, task.task, task.timeout, task.job ?? null, task.payload === undefined ? 0 : 1, task.payload ?? null);
  return wire;
}

function unpackRun(wire: unknown[]): ParentMessage {
  const tasks: TaskRequest[] = [];
  for (let i = 1; i < wire.length; i += RUN_FIELDS) {
    tasks.push({
      id: wire[i] as number,
      task: wire[i + 1] as string,
      timeout: wire[i + 2] as number,
      job: (wire[i + 3] ?? undefined) as JobInfo | undefined,
      payload: wire[i + 4] === 0 ? undefined : wire[i + 5],
    });
  }
  return { t: 'run', tasks };
}

function packDone(message: Extract<ChildMessage, { t: 'done' }>): unknown[] {
  const wire: unknown[] = [DONE, message.heapUsed ?? null, message.progress ?? null];
  for (const reply of message.replies) {
    if (!reply.ok) wire.push(reply.id, 0, reply.error, reply.runMs);
    else if (reply.value === undefined) wire.push(reply.id, 2, null, reply.runMs);
    else wire.push(reply.id, 1, reply.value, reply.runMs);
  }
  return wire;
}

function unpackDone(wire: unknown[]): ChildMessage {
  const replies: TaskReply[] = [];
  for (let i = 3; i < wire.length; i += DONE_FIELDS) {
    const [id, kind, value, runMs] = [wire[i] as number, wire[i + 1], wire[i + 2], wire[i + 3] as number];
    replies.push(kind === 0 ? { id, ok: false, error: value as WireError, runMs } : { id, ok: true, value: kind === 2 ? undefined : value, runMs });
  }
  return {
    t: 'done',
    replies,
    progress: (wire[2] ?? undefined) as Array<[number, unknown]> | undefined,
    heapUsed: (wire[1] ?? undefined) as number | undefined,
  };
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
        if (!field(task.payload, budget) || !field(task.job, budget) || !exact(task.timeout, 0, budget)) return false;
      }
      return true;
    case 'done':
      for (const reply of message.replies) if (!(reply.ok ? field(reply.value, budget) : wireError(reply.error, budget))) return false;
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
    if (!Object.hasOwn(value, key) || !exact((value as Record<string, unknown>)[key], depth + 1, budget)) return false;
  }
  return true;
}
