import { Worker, type TransferListItem } from 'node:worker_threads';
import { OutputTail } from './output-tail.ts';
import type { ChildMessage, ParentMessage } from './shared/protocol.ts';
import { packTaskMessage, unpackTaskMessage } from './task-messages.ts';
import { entryUrl, type SpawnSettings, type WorkerHandle } from './worker-handle.ts';

/** Starts one pool thread on worker_threads. */
export function spawnThread(settings: SpawnSettings): WorkerHandle {
  const { url, typescript } = entryUrl('thread-entry');
  const options = {
    workerData: settings.config,
    resourceLimits: settings.resourceLimits,
    execArgv: [...settings.execArgv],
    env: settings.env ?? process.env,
    stdout: true,
    stderr: true,
  };
  // Loader hooks do not reach threads on Node 20, so from source the entry is compiled by tsx's tsImport.
  const worker = typescript
    ? new Worker(bootstrap(url), { ...options, eval: true })
    : new Worker(url, options);
  const output = new OutputTail(settings.outputTail);
  output.capture(worker.stdout, settings.forwardOutput ? process.stdout : undefined);
  output.capture(worker.stderr, settings.forwardOutput ? process.stderr : undefined);
  let error: Error | undefined;
  worker.on('message', (message) => settings.onMessage(unpackTaskMessage(message) as ChildMessage));
  worker.on('error', (thrown) => (error ??= thrown));
  worker.on('exit', (code) => settings.onExit({ code, signal: null, error }));
  return {
    label: `thread ${worker.threadId}`,
    output,
    send: (message: ParentMessage, transfer?: readonly TransferListItem[]) =>
      worker.postMessage(packTaskMessage(message), transfer as TransferListItem[] | undefined),
    kill: () => void worker.terminate(),
    hold: (held) => (held ? worker.ref() : worker.unref()),
  };
}

function bootstrap(entry: URL): string {
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const href = JSON.stringify(entry.href);
  return `import(${api}).then(({ register }) => { register(); return import(${href}); });`;
}
