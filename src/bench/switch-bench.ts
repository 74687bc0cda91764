import os from 'node:os';
import { Affinity, type Placement } from './affinity.ts';
import { Interrupted } from './harness.ts';
import { Unmeasurable } from './kernel-probe.ts';
import {
  DEFAULT_SETTINGS,
  QUICK_SETTINGS,
  switchRows,
  type CostGroup,
  type RowSpec,
} from './switch-rows.ts';

/** One measured cost. Times are nanoseconds per operation (a hop, a round trip, a start, a copy). */
export interface SwitchRow {
  id: string;
  group: CostGroup;
  name: string;
  /** `any`: where the scheduler puts them; `one-cpu` / `two-cpus`: both sides pinned with taskset. */
  placement: Placement;
  median: number | null;
  p25: number | null;
  p75: number | null;
  /** Median absolute deviation. */
  mad: number | null;
  samples: number;
  /** Operations per sample. */
  iterations: number;
  /** Why the row is empty (perf missing, pinning not allowed, interrupted…). */
  reason?: string;
}

/** The harness's own cost against the smallest cost it reports; `ok` when under 5 %. */
export interface HarnessCheck {
  overheadNs: number | null;
  smallestNs: number | null;
  smallestRow: string | null;
  fraction: number | null;
  ok: boolean;
}

/** What `offload bench switch` measured; also its `--json` output and the saved last result. */
export interface SwitchResult {
  kind: 'offload-bench-switch';
  version: 1;
  startedAt: string;
  durationMs: number;
  /** False when interrupted: rows not reached carry the reason `interrupted`. */
  complete: boolean;
  quick: boolean;
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    platform: string;
    release: string;
    loadAverage: number[];
  };
  harness: HarnessCheck;
  rows: SwitchRow[];
}

export interface SwitchOptions {
  /** A few seconds instead of about half a minute: fewer, shorter samples. Default false. */
  quick?: boolean;
  /** Aborting it (Ctrl-C) stops after the current sample; the rows so far are returned. */
  signal?: AbortSignal;
  /** Called before each row starts and once at the end. */
  onProgress?(done: number, total: number, next: RowSpec | undefined): void;
}

/** The harness may add at most this fraction of the smallest cost it reports. */
export const HARNESS_LIMIT = 0.05;

/**
 * Measures what coroutine hops, thread and process round trips, start-ups and payload copies cost
 * on this machine, beside the kernel's own pipe ping-pong, each a median of repeated samples after
 * a warm-up. Rows that cannot be measured here say why.
 */
export async function runSwitchBench(options: SwitchOptions = {}): Promise<SwitchResult> {
  const settings = options.quick ? QUICK_SETTINGS : DEFAULT_SETTINGS;
  const specs = switchRows();
  const affinity = new Affinity();
  const started = Date.now();
  const rows: SwitchRow[] = [];
  let complete = true;
  for (const [index, spec] of specs.entries()) {
    options.onProgress?.(index, specs.length, spec);
    if (!complete || options.signal?.aborted) {
      complete = false;
      rows.push(emptyRow(spec, 'interrupted'));
      continue;
    }
    try {
      const m = await spec.measure({ settings, affinity, signal: options.signal });
      rows.push({
        ...base(spec),
        median: m.median,
        p25: m.p25,
        p75: m.p75,
        mad: m.mad,
        samples: m.samples,
        iterations: m.iterations,
      });
    } catch (error) {
      // Ctrl-C also reaches the peers (same process group): a peer that died of it counts as interrupted.
      const interrupted = error instanceof Interrupted || options.signal?.aborted === true;
      if (interrupted) complete = false;
      rows.push(
        emptyRow(
          spec,
          interrupted
            ? 'interrupted'
            : error instanceof Unmeasurable
              ? error.message
              : `failed: ${(error as Error)?.message ?? String(error)}`,
        ),
      );
    }
  }
  options.onProgress?.(specs.length, specs.length, undefined);
  return {
    kind: 'offload-bench-switch',
    version: 1,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    complete,
    quick: options.quick === true,
    machine: machine(),
    harness: harnessCheck(rows),
    rows,
  };
}

function base(spec: RowSpec): Pick<SwitchRow, 'id' | 'group' | 'name' | 'placement'> {
  return { id: spec.id, group: spec.group, name: spec.name, placement: spec.placement };
}

function emptyRow(spec: RowSpec, reason: string): SwitchRow {
  return {
    ...base(spec),
    median: null,
    p25: null,
    p75: null,
    mad: null,
    samples: 0,
    iterations: 0,
    reason,
  };
}

export function harnessCheck(rows: readonly SwitchRow[]): HarnessCheck {
  const overhead = rows.find((row) => row.group === 'harness')?.median ?? null;
  const measured = rows.filter((row) => row.group !== 'harness' && row.median !== null);
  const smallest = measured.reduce<SwitchRow | null>(
    (best, row) => (best === null || row.median! < best.median! ? row : best),
    null,
  );
  const fraction = overhead !== null && smallest ? overhead / smallest.median! : null;
  return {
    overheadNs: overhead,
    smallestNs: smallest?.median ?? null,
    smallestRow: smallest?.name ?? null,
    fraction,
    ok: fraction !== null && fraction < HARNESS_LIMIT,
  };
}

function machine(): SwitchResult['machine'] {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: os.platform(),
    release: os.release(),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}
