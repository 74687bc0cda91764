import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import type { OutputTail } from './output-tail.ts';
import type { ChildMessage, ParentMessage, WorkerConfig } from './shared/protocol.ts';

/** How a thread or child process ended. */
export interface ExitInfo {
  /** Exit code, or null when a signal ended a child process. */
  code: number | null;
  /** The signal that ended a child process (`SIGSEGV`, `SIGKILL`…), or null. */
  signal: NodeJS.Signals | null;
  /** An error the runtime reported as the thread died (out of memory, for one). */
  error: Error | undefined;
}

/** One running thread or child process, as the pool sees it: send, listen, end. */
export interface WorkerHandle {
  /** Thread id or process id, for messages and logs. */
  readonly label: string;
  readonly output: OutputTail;
  /** Sends a message; throws if something in it cannot be cloned. */
  send(message: ParentMessage, transfer?: readonly TransferListItem[]): void;
  /** Ends it at once (a thread is terminated, a process gets SIGKILL). */
  kill(): void;
  /** Lets this process exit while the worker is idle (`unref`), or holds it open again (`ref`). */
  hold(held: boolean): void;
}

export interface SpawnSettings {
  config: WorkerConfig;
  resourceLimits: ResourceLimits | undefined;
  execArgv: readonly string[];
  env: Record<string, string | undefined> | undefined;
  /** Copy the worker's stdout and stderr to this process's own. */
  forwardOutput: boolean;
  /** Characters of output to keep. */
  outputTail: number;
  onMessage(message: ChildMessage): void;
  onExit(info: ExitInfo): void;
}

/** Where the entry points are: `.ts` beside this file when running from source, `.js` when built. */
export function entryUrl(name: 'thread-entry' | 'process-entry'): {
  url: URL;
  typescript: boolean;
} {
  const typescript = import.meta.url.endsWith('.ts');
  return { url: new URL(`./${name}${typescript ? '.ts' : '.js'}`, import.meta.url), typescript };
}
