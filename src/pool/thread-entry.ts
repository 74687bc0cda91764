/** Entry point of a pool thread: runs the worker runtime over `parentPort`. */
import { parentPort, workerData } from 'node:worker_threads';
import { runWorker } from './child-runtime.ts';
import type { WorkerConfig } from './protocol.ts';

const port = parentPort!;
void runWorker(
  {
    post: (message) => port.postMessage(message),
    postThenExit: (message, code) => {
      port.postMessage(message);
      process.exit(code);
    },
    onMessage: (handler) => port.on('message', handler),
  },
  workerData as WorkerConfig,
);
