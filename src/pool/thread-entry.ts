/** Entry point of a pool thread: runs the worker runtime over `parentPort`. */
import { performance } from 'node:perf_hooks';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { runWorker } from './run-worker.ts';
import type { ParentMessage, WorkerConfig } from './shared/protocol.ts';
import { packTaskMessage, unpackTaskMessage } from './task-messages.ts';

/**
 * How long an idle thread keeps polling for the next task before it sleeps. Waking a sleeping
 * thread costs tens of microseconds on a virtual machine; a one-at-a-time caller usually sends the
 * next task within this window.
 */
const SPIN_MS = 0.1;

const port = parentPort!;
void runWorker(
  {
    post: (message) => port.postMessage(packTaskMessage(message)),
    postThenExit: (message, code) => {
      port.postMessage(packTaskMessage(message));
      process.exit(code);
    },
    onMessage: (handler) =>
      port.on('message', (message) => handler(unpackTaskMessage(message) as ParentMessage)),
    nextMessage: () => {
      const until = performance.now() + SPIN_MS;
      do {
        const received = receiveMessageOnPort(port);
        if (received) return unpackTaskMessage(received.message) as ParentMessage;
      } while (performance.now() < until);
      return undefined;
    },
  },
  workerData as WorkerConfig,
);
