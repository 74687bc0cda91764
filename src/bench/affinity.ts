import { execFileSync } from 'node:child_process';

/** Where the two sides of a round trip run. */
export type Placement = 'any' | 'one-cpu' | 'two-cpus';

export const PLACEMENT_LABELS: Record<Placement, string> = {
  any: 'any',
  'one-cpu': '1 CPU',
  'two-cpus': '2 CPUs',
};

/**
 * CPU pinning with `taskset` (sched_setaffinity). The measuring side is this process's main
 * thread (its thread id is the pid); the other side is a worker thread (by its thread id) or a
 * child process (all its threads).
 */
export class Affinity {
  /** CPUs this process may use when it starts, e.g. ['0', '1']. */
  readonly cpus: string[];
  /** Why pinning cannot be done here, or undefined when it can. */
  readonly unavailable: string | undefined;

  constructor() {
    const probe = readAffinity(process.pid);
    this.cpus = probe.cpus;
    this.unavailable = probe.error;
  }

  /** Why a placement cannot be measured here, or undefined. */
  whyNot(placement: Placement): string | undefined {
    if (placement === 'any') return undefined;
    if (this.unavailable) return this.unavailable;
    if (placement === 'two-cpus' && this.cpus.length < 2)
      return `this process may use only CPU ${this.cpus.join(',')}`;
    return undefined;
  }

  /** The CPUs for the measuring side and the other side under a placement. */
  sides(placement: Placement): { self: string; peer: string } | undefined {
    if (placement === 'any' || this.whyNot(placement)) return undefined;
    const first = this.cpus[0]!;
    return { self: first, peer: placement === 'one-cpu' ? first : this.cpus[1]! };
  }

  /** Pins one thread (or, with `allThreads`, a whole process) to a CPU list like "0" or "0,1". */
  pin(id: number, cpus: string, allThreads = false): void {
    execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-c', '-p', cpus, String(id)], {
      stdio: 'ignore',
    });
  }

  /** Gives this process's main thread back every CPU it started with. */
  restore(): void {
    if (!this.unavailable) this.pin(process.pid, this.cpus.join(','));
  }
}

function readAffinity(pid: number): { cpus: string[]; error?: string } {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { cpus: expandCpuList(out.slice(out.lastIndexOf(':') + 1).trim()) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    return {
      cpus: [],
      error:
        code === 'ENOENT'
          ? 'taskset not found (install util-linux) to pin CPUs'
          : `taskset failed: ${firstLine(error)}`,
    };
  }
}

/** "0-2,5" → ['0', '1', '2', '5']. */
export function expandCpuList(list: string): string[] {
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    if (to === undefined) return [String(from)];
    return Array.from({ length: to - from! + 1 }, (_, i) => String(from! + i));
  });
}

export function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const text =
    typeof stderr === 'string' && stderr.trim()
      ? stderr
      : stderr instanceof Buffer && stderr.length
        ? stderr.toString()
        : ((error as Error)?.message ?? String(error));
  return text.trim().split('\n')[0]!;
}
