import { performance } from 'node:perf_hooks';

export interface LoopBlock {
  /** How long the event loop was held, in milliseconds. */
  durationMs: number;
  /** Inline jobs that ran through the whole block: the ones that can have held the loop. */
  jobs: Array<{ id: string; task: string }>;
}

/** The warning for a block: the inline tasks that held the loop and what to do about it. */
export function describeBlock(block: LoopBlock): string {
  const names = block.jobs.map((job) => `"${job.task}" (job ${job.id})`).join(', ');
  return names
    ? `inline task ${names} blocked the event loop for ${block.durationMs} ms: call ctx.yield() in long loops, or use mode: 'thread'`
    : `the event loop was blocked for ${block.durationMs} ms (no inline task was running)`;
}

interface Tracked {
  id: string;
  task: string;
  startedAt: number;
  endedAt?: number;
}

/**
 * Notices when the event loop is held longer than `thresholdMs` and names the inline task that
 * held it. A ticker due every `tickMs` measures how late it fires: the lateness is the block. The
 * suspects are the inline jobs alive for the whole block (a job that started after it began, or
 * ended before it ended, cannot have held it), which is nearly always exactly one.
 */
export class LoopWatchdog {
  readonly #thresholdMs: number;
  readonly #tickMs: number;
  readonly #onBlock: (block: LoopBlock) => void;
  readonly #active = new Map<string, Tracked>();
  #ended: Tracked[] = [];
  #timer: NodeJS.Timeout | undefined;
  #last = 0;

  constructor(options: { thresholdMs: number; onBlock: (block: LoopBlock) => void }) {
    this.#thresholdMs = options.thresholdMs;
    this.#tickMs = Math.max(5, Math.min(50, Math.floor(options.thresholdMs / 4)));
    this.#onBlock = options.onBlock;
  }

  start(): void {
    if (this.#timer) return;
    this.#last = performance.now();
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** An inline job started running on this loop. */
  begin(id: string, task: string): void {
    if (this.#timer) this.#active.set(id, { id, task, startedAt: performance.now() });
  }

  /** An inline job stopped running on this loop. */
  end(id: string): void {
    const tracked = this.#active.get(id);
    if (!tracked) return;
    this.#active.delete(id);
    tracked.endedAt = performance.now();
    this.#ended.push(tracked);
  }

  #tick(): void {
    const now = performance.now();
    const blockStart = this.#last + this.#tickMs;
    const lateness = now - blockStart;
    this.#last = now;
    const ended = this.#ended;
    this.#ended = [];
    if (lateness < this.#thresholdMs) return;
    const slack = this.#tickMs;
    const suspects = [...this.#active.values(), ...ended].filter(
      (job) => job.startedAt <= blockStart + slack && (job.endedAt ?? now) >= now - lateness / 2,
    );
    this.#onBlock({
      durationMs: Math.round(lateness),
      jobs: suspects.map(({ id, task }) => ({ id, task })),
    });
  }
}
