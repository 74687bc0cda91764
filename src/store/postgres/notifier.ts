import type { Logger } from 'pino';

/** PostgreSQL refuses payloads of 8000 bytes or more; stay well below. */
const MAX_PAYLOAD_BYTES = 7_500;
/** Kinds that wake workers go out on the next turn; the rest (successes) within this many ms. */
const EVENT_DELAY_MS = 20;
const URGENT = new Set(['enq', 'changed']);

/**
 * Announces committed changes to every store instance that LISTENs on the channel, just after
 * their commit, one statement at a time (so they arrive in the order they were published), as
 * payloads `[origin, kind, [item, ...]]` of at most 7 500 bytes. It carries only what may follow
 * other announcements by a few milliseconds without breaking a job's order of events: successes
 * (`ok`: a success ends its job, and every earlier event of the job was announced by the statement
 * that made it, see queries.ts), paused and resumed queues (`changed`), and, where the role may
 * not run `walFlush`, enqueues (`enq`). Enqueues and queue changes go out at once (they wake
 * workers); successes are gathered for up to 20 ms, so a busy worker sends a few announcements a
 * second instead of one per batch.
 * Announcements are hints: one lost to a broken connection is logged and dropped, never retried;
 * listeners fall back to their poll.
 */
export class Notifier {
  readonly #origin: string;
  readonly #send: (payloads: string[]) => Promise<unknown>;
  readonly #log: Logger;
  #pending: string[] = [];
  #scheduled = false;
  #delayed: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;

  constructor(options: {
    origin: string;
    send: (payloads: string[]) => Promise<unknown>;
    logger: Logger;
  }) {
    this.#origin = options.origin;
    this.#send = options.send;
    this.#log = options.logger;
  }

  /** Queues items of one kind; each item is a JSON-ready array. */
  publish(kind: string, items: readonly unknown[][]): void {
    if (items.length === 0) return;
    const head = `[${JSON.stringify(this.#origin)},${JSON.stringify(kind)},[`;
    let chunk: string[] = [];
    let bytes = head.length + 2;
    for (const item of items) {
      const text = JSON.stringify(item);
      const size = Buffer.byteLength(text);
      if (size + head.length + 2 > MAX_PAYLOAD_BYTES) continue;
      if (bytes + size + 1 > MAX_PAYLOAD_BYTES) {
        this.#pending.push(`${head}${chunk.join(',')}]]`);
        chunk = [];
        bytes = head.length + 2;
      }
      chunk.push(text);
      bytes += size + 1;
    }
    if (chunk.length > 0) this.#pending.push(`${head}${chunk.join(',')}]]`);
    if (!URGENT.has(kind)) this.#delayed ??= setTimeout(() => this.#schedule(), EVENT_DELAY_MS);
    else if (this.#sending) this.#schedule();
    else {
      // Wakes workers: send now, not on the next turn.
      clearTimeout(this.#delayed);
      this.#delayed = undefined;
      this.#flush();
    }
  }

  /** Resolves once everything published so far was sent (or given up). */
  async drain(): Promise<void> {
    if (this.#delayed) this.#schedule();
    while (this.#scheduled || this.#sending || this.#pending.length > 0) {
      if (this.#sending) await this.#sending;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #schedule(): void {
    clearTimeout(this.#delayed);
    this.#delayed = undefined;
    if (this.#scheduled || this.#sending) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#sending || this.#pending.length === 0) return;
    const payloads = this.#pending;
    this.#pending = [];
    this.#sending = this.#send(payloads)
      .then(
        () => undefined,
        (error: unknown) =>
          this.#log.warn(
            { err: (error as Error)?.message, dropped: payloads.length },
            'offload: could not announce changes with NOTIFY; listeners will catch up by polling',
          ),
      )
      .finally(() => {
        this.#sending = undefined;
        if (this.#pending.length > 0) this.#schedule();
      });
  }
}
