import { Affinity, PLACEMENT_LABELS, type Placement } from './affinity.ts';
import { measure, type HarnessSettings, type Measurement, type Probe } from './harness.ts';
import { perfPipe, Unmeasurable, type PerfSettings } from './kernel-probe.ts';
import {
  cloneProbe,
  emptyProbe,
  hopProbes,
  processStartProbe,
  threadStartProbe,
  transferProbe,
} from './local-probes.ts';
import { startProcessPeer, startThreadPeer, type Peer } from './peers.ts';
import { summarize } from './stats.ts';

/** What a cost belongs to: the harness itself, a mode, payload copying, or the kernel's baseline. */
export type CostGroup = 'harness' | 'coroutine' | 'thread' | 'process' | 'payload' | 'kernel';

export const GROUP_LABELS: Record<CostGroup, string> = {
  harness: 'harness',
  coroutine: 'inline (coroutine)',
  thread: 'thread',
  process: 'process',
  payload: 'payload',
  kernel: 'kernel (perf)',
};

/** How hard each kind of row is measured. */
export interface RunSettings {
  harness: HarnessSettings;
  /** Samples of thread and process start-up (one start each). */
  startSamples: number;
  perf: PerfSettings;
}

export const DEFAULT_SETTINGS: RunSettings = {
  harness: { sampleMs: 30, warmups: 3, samples: 11 },
  startSamples: 10,
  perf: { loops: 5000, apartLoops: 20_000, runs: 3 },
};
export const QUICK_SETTINGS: RunSettings = {
  harness: { sampleMs: 4, warmups: 1, samples: 3 },
  startSamples: 2,
  perf: { loops: 1000, apartLoops: 3000, runs: 1 },
};

export interface RowContext {
  settings: RunSettings;
  affinity: Affinity;
  signal: AbortSignal | undefined;
}

/** One cost to measure. */
export interface RowSpec {
  id: string;
  group: CostGroup;
  name: string;
  placement: Placement;
  measure(context: RowContext): Promise<Measurement>;
}

const PLACEMENTS: Placement[] = ['any', 'one-cpu', 'two-cpus'];

function local(id: string, group: CostGroup, name: string, probe: Probe): RowSpec {
  return {
    id,
    group,
    name,
    placement: 'any',
    measure: ({ settings, signal }) => measure(probe, settings.harness, { signal }),
  };
}

function startUp(id: string, group: CostGroup, name: string, probe: Probe): RowSpec {
  return {
    id,
    group,
    name,
    placement: 'any',
    measure: ({ settings, signal }) =>
      measure(
        probe,
        { ...settings.harness, warmups: 1, samples: settings.startSamples },
        { iterations: 1, signal },
      ),
  };
}

/** A round trip to a peer, with both sides pinned as the placement says. */
function roundTrip(
  id: string,
  group: CostGroup,
  name: string,
  placement: Placement,
  start: () => Promise<Peer>,
): RowSpec {
  return {
    id: `${id}@${placement}`,
    group,
    name,
    placement,
    async measure({ settings, affinity, signal }) {
      const why = affinity.whyNot(placement);
      if (why) throw new Unmeasurable(why);
      const peer = await start();
      const sides = affinity.sides(placement);
      try {
        if (sides) {
          if (!peer.id)
            throw new Unmeasurable('the thread id of the peer is unknown (no /proc/thread-self)');
          affinity.pin(process.pid, sides.self);
          affinity.pin(peer.id, sides.peer, peer.isProcess);
        }
        return await measure({ run: (n) => peer.roundTrips(n) }, settings.harness, { signal });
      } finally {
        await peer.close();
        if (sides) affinity.restore();
      }
    },
  };
}

function kernel(threaded: boolean, placement: Placement): RowSpec {
  return {
    id: `perf-pipe${threaded ? '-threads' : ''}@${placement}`,
    group: 'kernel',
    name: `perf bench sched pipe${threaded ? ' -T (threads)' : ' (processes)'}`,
    placement,
    async measure({ settings, affinity, signal }) {
      const samples = await perfPipe(threaded, placement, affinity, settings.perf, signal);
      return {
        ...summarize(samples),
        iterations: placement === 'two-cpus' ? settings.perf.apartLoops : settings.perf.loops,
      };
    },
  };
}

const KB = 1024;
const SIZES: Array<[string, number]> = [
  ['1 KB', KB],
  ['64 KB', 64 * KB],
  ['1 MB', KB * KB],
];

/** Every row of `offload bench switch`, in the order they run and print. */
export function switchRows(): RowSpec[] {
  const each = (make: (placement: Placement) => RowSpec) => PLACEMENTS.map(make);
  return [
    local('harness-empty', 'harness', 'empty measurement (harness overhead)', emptyProbe),
    local('await', 'coroutine', 'await a resolved promise', hopProbes.await),
    local('queue-microtask', 'coroutine', 'queueMicrotask hop', hopProbes.queueMicrotask),
    local('set-immediate', 'coroutine', 'setImmediate hop', hopProbes.setImmediate),
    ...each((p) =>
      roundTrip('thread-post', 'thread', 'postMessage round trip (Worker)', p, () =>
        startThreadPeer('worker'),
      ),
    ),
    ...each((p) =>
      roundTrip('thread-channel', 'thread', 'postMessage round trip (MessageChannel)', p, () =>
        startThreadPeer('channel'),
      ),
    ),
    ...each((p) =>
      roundTrip(
        'thread-atomics',
        'thread',
        'SharedArrayBuffer + Atomics.wait/notify hand-off',
        p,
        () => startThreadPeer('atomics'),
      ),
    ),
    startUp(
      'thread-start',
      'thread',
      'thread start-up (new Worker to first message)',
      threadStartProbe,
    ),
    ...each((p) =>
      roundTrip('process-ipc-json', 'process', "IPC round trip (serialization 'json')", p, () =>
        startProcessPeer('json'),
      ),
    ),
    ...each((p) =>
      roundTrip(
        'process-ipc-advanced',
        'process',
        "IPC round trip (serialization 'advanced')",
        p,
        () => startProcessPeer('advanced'),
      ),
    ),
    ...each((p) =>
      roundTrip('process-pipe', 'process', 'raw pipe ping-pong (stdin/stdout)', p, () =>
        startProcessPeer('pipe'),
      ),
    ),
    startUp(
      'process-start',
      'process',
      'process start-up (spawn node to first IPC message)',
      processStartProbe,
    ),
    ...SIZES.map(([label, bytes]) =>
      local(
        `clone-${bytes}`,
        'payload',
        `structuredClone of a ${label} object graph`,
        cloneProbe(bytes),
      ),
    ),
    ...SIZES.map(([label, bytes]) =>
      local(
        `transfer-${bytes}`,
        'payload',
        `transfer of a ${label} ArrayBuffer`,
        transferProbe(bytes),
      ),
    ),
    ...each((p) => kernel(false, p)),
    ...each((p) => kernel(true, p)),
  ];
}

export { PLACEMENT_LABELS };
