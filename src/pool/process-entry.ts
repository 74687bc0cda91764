/** Entry point of a pool child process: runs the worker runtime over the IPC channel. */
import { performance } from 'node:perf_hooks';
import { runWorker } from './run-worker.ts';
import type { ChildMessage, ParentMessage, WorkerConfig } from './shared/protocol.ts';
import { fromProcessWire, toProcessWire } from './process-wire.ts';

/**
 * How long a child keeps its event loop turning after it answers, so the pool's next message is
 * read by a poll instead of waking a sleeping process. Waking a process costs tens of microseconds
 * on a virtual machine; a one-at-a-time caller usually sends the next task within this window. A
 * child cannot read its IPC pipe synchronously the way a thread reads its port, so it turns its
 * loop with `setImmediate`, whose poll phase does not block.
 */
const AWAKE_MS = 0.1;
let awakeUntil = 0;
const stayAwake = (): void => {
  if (performance.now() < awakeUntil) setImmediate(stayAwake);
};

const send = (message: ChildMessage, done?: () => void): void => {
  if (!process.send) process.exit(1);
  process.send(toProcessWire(message), undefined, undefined, done);
};
// The pool ends its children itself; losing the channel means the pool is gone.
process.on('disconnect', () => process.exit(0));
void runWorker(
  {
    post: (message) => {
      send(message);
      const now = performance.now();
      const turning = awakeUntil > now;
      awakeUntil = now + AWAKE_MS;
      if (!turning) setImmediate(stayAwake);
    },
    postThenExit: (message, code) => send(message, () => process.exit(code)),
    onMessage: (handler) =>
      process.on('message', (message) => handler(fromProcessWire<ParentMessage>(message))),
  },
  JSON.parse(process.argv[2] ?? '{}') as WorkerConfig,
);
