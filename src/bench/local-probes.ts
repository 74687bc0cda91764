import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { Probe } from './harness.ts';
import { endChild, PEER_ENV } from './peers.ts';

let sink = 0;

/** The harness with nothing inside: its timer and loop, to compare every other cost against. */
export const emptyProbe: Probe = {
  run(n) {
    let i = 0;
    while (i < n) i++;
    sink = i;
  },
};

const resolved = Promise.resolve();

/** Coroutine hops: each gives the event loop's queue one turn and comes back. */
export const hopProbes = {
  await: {
    async run(n) {
      for (let i = 0; i < n; i++) await resolved;
    },
  },
  queueMicrotask: {
    run: (n) => chain(n, queueMicrotask),
  },
  setImmediate: {
    run: (n) => chain(n, (step) => setImmediate(step)),
  },
} satisfies Record<string, Probe>;

function chain(n: number, schedule: (step: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let left = n;
    const step = () => (--left <= 0 ? resolve() : schedule(step));
    schedule(step);
  });
}

/** A JSON-like object graph (records of a few fields) whose JSON is about `bytes` long. */
export function objectGraph(bytes: number): unknown[] {
  const items: unknown[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const item = { id: i, name: `item-${i}`, tags: ['a', 'b'], score: i / 7, done: i % 2 === 0 };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  return items;
}

/** structuredClone of an object graph: what postMessage and advanced IPC pay per message. */
export function cloneProbe(bytes: number): Probe {
  const value = objectGraph(bytes);
  return {
    run(n) {
      for (let i = 0; i < n; i++) structuredClone(value);
    },
  };
}

/** Moving an ArrayBuffer (transfer), which hands over its memory instead of copying it. */
export function transferProbe(bytes: number): Probe {
  let buffer = new ArrayBuffer(bytes);
  return {
    run(n) {
      for (let i = 0; i < n; i++) buffer = structuredClone(buffer, { transfer: [buffer] });
    },
  };
}

/** From `new Worker` to the thread's first message (its own clean-up not counted). */
export const threadStartProbe: Probe = {
  async run(n) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const start = process.hrtime.bigint();
      const worker = new Worker("require('node:worker_threads').parentPort.postMessage(1)", {
        eval: true,
      });
      await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
      total += Number(process.hrtime.bigint() - start);
      await worker.terminate();
    }
    return total;
  },
};

/** From spawning `node` to the child's first IPC message (its exit not counted). */
export const processStartProbe: Probe = {
  async run(n) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const start = process.hrtime.bigint();
      const child = spawn(process.execPath, ['-e', 'process.send(1)'], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        env: { ...process.env, [PEER_ENV]: String(process.pid) },
      });
      try {
        await new Promise((resolve, reject) => {
          child.once('message', resolve).once('error', reject);
          child.once('exit', (code) =>
            reject(new Error(`node exited (code ${code}) before it was ready`)),
          );
        });
        total += Number(process.hrtime.bigint() - start);
      } finally {
        await endChild(child);
      }
    }
    return total;
  },
};

/** Keeps the empty loop's work observable, so it is not optimised away. */
export function emptySink(): number {
  return sink;
}
