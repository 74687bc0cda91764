import { fork } from 'node:child_process';
import { OutputTail } from './output-tail.ts';
import { fromProcessWire, toProcessWire } from './process-wire.ts';
import type { ChildMessage, ParentMessage } from './shared/protocol.ts';
import { entryUrl, type SpawnSettings, type WorkerHandle } from './worker-handle.ts';

/** How long to wait, after a child exits, for the rest of its output before reporting the exit. */
const OUTPUT_GRACE_MS = 500;

/** Starts one pool child process with `fork`, messages framed by {@link toProcessWire}, and captured output. */
export function spawnProcess(settings: SpawnSettings): WorkerHandle {
  const { url, typescript } = entryUrl('process-entry');
  const child = fork(url, [JSON.stringify(settings.config)], {
    execArgv: [
      ...heapFlags(settings),
      ...(typescript ? ['--import', import.meta.resolve('tsx')] : []),
      ...settings.execArgv,
    ],
    env: settings.env ?? process.env,
    serialization: 'json',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = new OutputTail(settings.outputTail);
  output.capture(child.stdout, settings.forwardOutput ? process.stdout : undefined);
  output.capture(child.stderr, settings.forwardOutput ? process.stderr : undefined);
  child.on('message', (message) => settings.onMessage(fromProcessWire<ChildMessage>(message)));
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError ??= error));
  let reported = false;
  const report = (code: number | null, signal: NodeJS.Signals | null) => {
    if (reported) return;
    reported = true;
    settings.onExit({ code, signal, error: spawnError });
  };
  child.on('close', report);
  // Not unref'd: a pool awaiting this exit (destroy, close) must keep the loop alive until it is reported.
  child.on('exit', (code, signal) => setTimeout(() => report(code, signal), OUTPUT_GRACE_MS));
  return {
    label: `process ${child.pid}`,
    output,
    send: (message: ParentMessage) => {
      if (child.connected) child.send(toProcessWire(message));
    },
    kill: () => void child.kill('SIGKILL'),
    hold: (held) => {
      for (const handle of [child, child.channel, child.stdout, child.stderr] as Array<
        { ref?(): void; unref?(): void } | null | undefined
      >) {
        if (held) handle?.ref?.();
        else handle?.unref?.();
      }
    },
  };
}

/** The heap caps of `resourceLimits`, as V8 flags for a child process. */
function heapFlags(settings: SpawnSettings): string[] {
  const limits = settings.resourceLimits ?? {};
  const flags: string[] = [];
  if (limits.maxOldGenerationSizeMb)
    flags.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
  if (limits.maxYoungGenerationSizeMb)
    flags.push(
      `--max-semi-space-size=${Math.max(1, Math.ceil(limits.maxYoungGenerationSizeMb / 3))}`,
    );
  if (limits.stackSizeMb) flags.push(`--stack-size=${Math.floor(limits.stackSizeMb * 1024)}`);
  return flags;
}
