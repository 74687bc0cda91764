import v8 from 'node:v8';
import type { Task } from '../task/task.ts';
import { loadTaskModule } from '../task/load-task-module-node.ts';
import { ChildRuntime, type ChildPort } from './shared/child-runtime.ts';
import { toWireError, type ParentMessage, type WorkerConfig } from './shared/protocol.ts';

/**
 * The inside of a pool worker (thread or child process): loads the task module once, then runs
 * the tasks it is sent and answers in batches. Crashes it cannot contain (an uncaught exception,
 * an unhandled rejection) are reported to the pool before the worker ends.
 */
export async function runWorker(port: ChildPort, config: WorkerConfig): Promise<void> {
  const early: ParentMessage[] = [];
  const started: { runtime?: ChildRuntime } = {};
  port.onMessage((message) => {
    const runtime = started.runtime;
    if (!runtime) return void early.push(message);
    for (
      let next: ParentMessage | undefined = message;
      next;
      next = runtime.idle ? port.nextMessage?.() : undefined
    )
      runtime.handle(next);
  });
  const fatal = (error: unknown) => port.postThenExit({ t: 'fatal', error: toWireError(error) }, 1);
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  let tasks: Task[];
  try {
    tasks = await loadTaskModule(config.module);
  } catch (error) {
    port.postThenExit({ t: 'init-error', error: toWireError(error) }, 1);
    return;
  }
  const settings = {
    sliceMs: config.sliceMs,
    heapUsed: config.reportHeap ? () => v8.getHeapStatistics().used_heap_size : undefined,
    defer: setImmediate,
  };
  const runtime = (started.runtime = new ChildRuntime(port, tasks, settings));
  port.post({ t: 'ready', tasks: tasks.map(({ name, timeout }) => ({ name, timeout })) });
  for (const message of early) runtime.handle(message);
}
