/** Entry point of a pool child process: runs the worker runtime over the IPC channel. */
import { runWorker } from './child-runtime.ts';
import type { ChildMessage, ParentMessage, WorkerConfig } from './protocol.ts';
import { fromProcessWire, toProcessWire } from './process-wire.ts';

const send = (message: ChildMessage, done?: () => void): void => {
  if (!process.send) process.exit(1);
  process.send(toProcessWire(message), undefined, undefined, done);
};
// The pool ends its children itself; losing the channel means the pool is gone.
process.on('disconnect', () => process.exit(0));
void runWorker(
  {
    post: (message) => send(message),
    postThenExit: (message, code) => send(message, () => process.exit(code)),
    onMessage: (handler) => process.on('message', (message) => handler(fromProcessWire<ParentMessage>(message))),
  },
  JSON.parse(process.argv[2] ?? '{}') as WorkerConfig,
);
