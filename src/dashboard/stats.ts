/**
 * Live statistics of the job event stream: rates per second, latency percentiles and a latency
 * histogram. Pure and allocation-light, so it runs in the dashboard's Web Worker at thousands of
 * events per second and in Node tests alike.
 */

/** One job event as `GET /v1/events` sends it. */
export interface StreamEvent {
  type: string;
  id: string;
  queue: string;
  task: string;
  state: string;
  /** Epoch ms when the server saw it. */
  at: number;
}

export interface StatsSnapshot {
  /** Epoch seconds of each point, oldest first. */
  seconds: number[];
  enqueued: number[];
  succeeded: number[];
  failed: number[];
  /** Run-time percentiles per second, ms (NaN for a second without finished runs). */
  p50: number[];
  p95: number[];
  p99: number[];
  /** Over the whole window. */
  latency: { p50: number; p95: number; p99: number; count: number };
  histogram: { upperMs: number[]; counts: number[] };
  totals: { events: number; enqueued: number; succeeded: number; failed: number };
  /** Events per second over the last 5 s. */
  eventRate: number;
}

const HISTOGRAM_UPPER_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, Infinity];
const MAX_OPEN_RUNS = 100_000;

interface Second {
  second: number;
  enqueued: number;
  succeeded: number;
  failed: number;
  events: number;
  durations: number[];
}

export class EventAggregator {
  readonly #windowSeconds: number;
  readonly #seconds: Second[] = [];
  readonly #started = new Map<string, number>();
  readonly #totals = { events: 0, enqueued: 0, succeeded: 0, failed: 0 };

  constructor(windowSeconds = 120) {
    this.#windowSeconds = windowSeconds;
  }

  add(event: StreamEvent): void {
    this.#totals.events++;
    const bucket = this.#bucket(Math.floor(event.at / 1000));
    bucket.events++;
    switch (event.type) {
      case 'job:enqueued':
        bucket.enqueued++;
        this.#totals.enqueued++;
        break;
      case 'job:started':
        if (this.#started.size >= MAX_OPEN_RUNS) this.#started.clear();
        this.#started.set(event.id, event.at);
        break;
      case 'job:succeeded':
      case 'job:failed': {
        if (event.type === 'job:succeeded') {
          bucket.succeeded++;
          this.#totals.succeeded++;
        } else {
          bucket.failed++;
          this.#totals.failed++;
        }
        const started = this.#started.get(event.id);
        if (started !== undefined) {
          this.#started.delete(event.id);
          bucket.durations.push(Math.max(0, event.at - started));
        }
        break;
      }
      case 'job:retrying':
      case 'job:cancelled':
        this.#started.delete(event.id);
        break;
    }
  }

  snapshot(nowMs: number): StatsSnapshot {
    const now = Math.floor(nowMs / 1000);
    this.#trim(now);
    const byId = new Map(this.#seconds.map((s) => [s.second, s]));
    const snapshot: StatsSnapshot = {
      seconds: [],
      enqueued: [],
      succeeded: [],
      failed: [],
      p50: [],
      p95: [],
      p99: [],
      latency: { p50: NaN, p95: NaN, p99: NaN, count: 0 },
      histogram: { upperMs: HISTOGRAM_UPPER_MS, counts: HISTOGRAM_UPPER_MS.map(() => 0) },
      totals: { ...this.#totals },
      eventRate: 0,
    };
    const all: number[] = [];
    let recentEvents = 0;
    for (let second = now - this.#windowSeconds + 1; second <= now; second++) {
      const bucket = byId.get(second);
      snapshot.seconds.push(second);
      snapshot.enqueued.push(bucket?.enqueued ?? 0);
      snapshot.succeeded.push(bucket?.succeeded ?? 0);
      snapshot.failed.push(bucket?.failed ?? 0);
      const sorted = bucket ? [...bucket.durations].sort((a, b) => a - b) : [];
      snapshot.p50.push(percentile(sorted, 0.5));
      snapshot.p95.push(percentile(sorted, 0.95));
      snapshot.p99.push(percentile(sorted, 0.99));
      if (bucket) {
        for (const duration of bucket.durations) all.push(duration);
        if (second > now - 5) recentEvents += bucket.events;
      }
    }
    all.sort((a, b) => a - b);
    snapshot.latency = {
      p50: percentile(all, 0.5),
      p95: percentile(all, 0.95),
      p99: percentile(all, 0.99),
      count: all.length,
    };
    for (const duration of all)
      snapshot.histogram.counts[HISTOGRAM_UPPER_MS.findIndex((upper) => duration <= upper)]!++;
    snapshot.eventRate = recentEvents / 5;
    return snapshot;
  }

  #bucket(second: number): Second {
    const last = this.#seconds.at(-1);
    if (last && last.second === second) return last;
    const existing = this.#seconds.find((s) => s.second === second);
    if (existing) return existing;
    const bucket: Second = {
      second,
      enqueued: 0,
      succeeded: 0,
      failed: 0,
      events: 0,
      durations: [],
    };
    this.#seconds.push(bucket);
    if (last && last.second > second) this.#seconds.sort((a, b) => a.second - b.second);
    return bucket;
  }

  #trim(now: number): void {
    while (this.#seconds.length && this.#seconds[0]!.second <= now - this.#windowSeconds)
      this.#seconds.shift();
  }
}

/** The nearest-rank percentile of sorted numbers; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
