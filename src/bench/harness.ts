import type { Spread } from './stats.ts';
import { summarize } from './stats.ts';

/**
 * Something to time: `run(n)` does the operation n times in a row. It may return the nanoseconds
 * it measured itself (start-ups time only the start, not the clean-up); otherwise the harness
 * times the whole call.
 */
export interface Probe {
  run(iterations: number): Promise<number | void> | number | void;
}

/** How hard to measure. */
export interface HarnessSettings {
  /** Wall time one sample aims at (ms); iterations per sample are calibrated to it. */
  sampleMs: number;
  /** Samples thrown away before measuring. */
  warmups: number;
  /** Samples kept. */
  samples: number;
}

export interface Measurement extends Spread {
  /** Operations per sample. */
  iterations: number;
}

/** Thrown between samples once the run's signal aborts (Ctrl-C). */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

const MAX_ITERATIONS = 50_000_000;

/** Times one call of `probe.run(iterations)`, in nanoseconds. */
export async function timeOnce(probe: Probe, iterations: number): Promise<number> {
  const start = process.hrtime.bigint();
  const own = await probe.run(iterations);
  const elapsed = Number(process.hrtime.bigint() - start);
  return typeof own === 'number' ? own : elapsed;
}

/** Finds how many iterations fill about `sampleMs`, starting at one and growing. */
export async function calibrate(
  probe: Probe,
  sampleMs: number,
  signal?: AbortSignal,
): Promise<number> {
  const target = sampleMs * 1e6;
  await probe.run(1);
  let iterations = 1;
  for (;;) {
    if (signal?.aborted) throw new Interrupted();
    const elapsed = Math.max(1, await timeOnce(probe, iterations));
    if (elapsed >= target / 4 || iterations >= MAX_ITERATIONS)
      return Math.min(MAX_ITERATIONS, Math.max(1, Math.round((iterations * target) / elapsed)));
    iterations = Math.min(MAX_ITERATIONS, iterations * (elapsed < target / 100 ? 10 : 2));
  }
}

/**
 * Warm-up, then `samples` timed batches of `iterations` (calibrated unless given); the summary is
 * of nanoseconds per operation.
 */
export async function measure(
  probe: Probe,
  settings: HarnessSettings,
  options: { iterations?: number; signal?: AbortSignal } = {},
): Promise<Measurement> {
  const { signal } = options;
  const iterations = options.iterations ?? (await calibrate(probe, settings.sampleMs, signal));
  for (let i = 0; i < settings.warmups; i++) {
    if (signal?.aborted) throw new Interrupted();
    await timeOnce(probe, iterations);
  }
  const perOp: number[] = [];
  for (let i = 0; i < settings.samples; i++) {
    if (signal?.aborted) throw new Interrupted();
    perOp.push((await timeOnce(probe, iterations)) / iterations);
  }
  return { ...summarize(perOp), iterations };
}
