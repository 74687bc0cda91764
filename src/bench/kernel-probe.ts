import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Affinity, Placement } from './affinity.ts';
import { Interrupted } from './harness.ts';
import { PEER_ENV } from './peers.ts';

/** A row that cannot be measured here, with the reason. */
export class Unmeasurable extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'Unmeasurable';
  }
}

export interface PerfSettings {
  /** Ping-pongs per perf run. */
  loops: number;
  /** Ping-pongs per run with the sides on two CPUs: long, so the first few ms before they are pinned apart do not count. */
  apartLoops: number;
  /** perf runs; each gives one sample. */
  runs: number;
}

/**
 * The kernel's own pipe ping-pong, `perf bench sched pipe` (processes) or with `-T` (threads):
 * a round trip with no runtime in the way. Returns nanoseconds per round trip, one per run.
 * For two CPUs, perf starts on one CPU and one side moves to the other as soon as it appears (a few
 * ms into a run of about a second).
 */
export async function perfPipe(
  threaded: boolean,
  placement: Placement,
  affinity: Affinity,
  settings: PerfSettings,
  signal?: AbortSignal,
): Promise<number[]> {
  const why = affinity.whyNot(placement);
  if (why) throw new Unmeasurable(why);
  const samples: number[] = [];
  for (let i = 0; i < settings.runs; i++) {
    if (signal?.aborted) throw new Interrupted();
    samples.push(await perfOnce(threaded, placement, affinity, settings));
  }
  return samples;
}

async function perfOnce(
  threaded: boolean,
  placement: Placement,
  affinity: Affinity,
  settings: PerfSettings,
): Promise<number> {
  const sides = affinity.sides(placement);
  const args = [
    'bench',
    'sched',
    'pipe',
    '-l',
    String(placement === 'two-cpus' ? settings.apartLoops : settings.loops),
    ...(threaded ? ['-T'] : []),
  ];
  const [command, argv] = sides ? ['taskset', ['-c', sides.self, 'perf', ...args]] : ['perf', args];
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [PEER_ENV]: String(process.pid) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Unmeasurable(
          error.code === 'ENOENT'
            ? `${command} not found (install linux-perf for the kernel's own numbers)`
            : error.message,
        ),
      ),
    );
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  if (placement === 'two-cpus' && child.pid) {
    await pinApart(child.pid, threaded, sides!.peer, affinity).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error instanceof Unmeasurable
        ? error
        : new Unmeasurable(`could not pin perf's tasks apart: ${(error as Error).message}`);
    });
  }
  const code = await exited;
  const match = /([\d.]+)\s+usecs\/op/.exec(stdout);
  if (code !== 0 || !match) {
    const why = (stderr.trim() || stdout.trim() || `exit code ${code}`).split('\n')[0];
    throw new Unmeasurable(`perf bench sched pipe failed: ${why}`);
  }
  return Number(match[1]) * 1000;
}

/** Waits (up to 1 s) for perf's two ping-pong tasks and moves the second to the other CPU. */
async function pinApart(
  pid: number,
  threaded: boolean,
  cpu: string,
  affinity: Affinity,
): Promise<void> {
  for (let waited = 0; waited < 1000; waited++) {
    const tasks = pingPongTasks(pid, threaded);
    if (tasks.length === 2) {
      try {
        affinity.pin(tasks[1]!, cpu);
        return;
      } catch (error) {
        if (!fs.existsSync(`/proc/${pid}`))
          throw new Unmeasurable('perf ended before its tasks could be pinned apart', {
            cause: error,
          });
      }
    }
    await sleep(1);
  }
  throw new Unmeasurable('could not find the two tasks of perf bench sched pipe to pin them apart');
}

/** Process mode: perf itself and its forked child. Thread mode: the two threads beside perf's main thread. */
function pingPongTasks(pid: number, threaded: boolean): number[] {
  try {
    if (threaded)
      return fs
        .readdirSync(`/proc/${pid}/task`)
        .map(Number)
        .filter((tid) => tid !== pid)
        .sort((a, b) => a - b);
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return children ? [pid, Number(children.split(/\s+/)[0])] : [];
  } catch {
    return [];
  }
}
