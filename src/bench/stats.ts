/** Median and spread of a set of samples, in nanoseconds per operation. */
export interface Spread {
  median: number;
  p25: number;
  p75: number;
  min: number;
  /** Median absolute deviation from the median. */
  mad: number;
  samples: number;
}

/** The q-quantile (0–1) of sorted values, interpolating between neighbours. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

export function summarize(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const deviations = sorted.map((value) => Math.abs(value - median)).sort((a, b) => a - b);
  return {
    median,
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0] ?? Number.NaN,
    mad: quantile(deviations, 0.5),
    samples: sorted.length,
  };
}

/** "31.2 ns", "4.35 µs", "17.0 ms": three significant figures in the unit that fits. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  const [value, unit] =
    ns < 1e3
      ? [ns, 'ns']
      : ns < 1e6
        ? [ns / 1e3, 'µs']
        : ns < 1e9
          ? [ns / 1e6, 'ms']
          : [ns / 1e9, 's'];
  return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ${unit}`;
}
