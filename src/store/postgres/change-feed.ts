import type pg from 'pg';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import type { StoreEventHub } from '../events.ts';
import { Listener } from './listener.ts';
import { decodeNotification, notificationHead } from './notifications.ts';

/** Notification kinds after which other processes should look for work again. */
const CHANGE_KINDS = new Set(['enq', 'upd', 'changed', 'out']);

export interface ChangeFeedOptions {
  events: StoreEventHub;
  /** This store instance's origin: its own notifications are skipped (emitted when they happened). */
  origin: string;
  clock: Clock;
  logger: Logger;
  label: string;
  channel: string;
  listen: boolean;
  pollInterval: number;
  listenConfig: pg.ClientConfig;
  /** Poll-only mode: the last job id handed out. */
  lastJobId(): Promise<string | undefined>;
}

/**
 * How a store instance hears of other processes' changes. With LISTEN: job events decoded from
 * notifications, `store:changed` when work may have become claimable, after a reconnect, and every
 * `pollInterval`. Poll-only: `store:changed` when the last job id moved, and every tenth look.
 */
export class ChangeFeed {
  readonly #options: ChangeFeedOptions;
  #listener: Listener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastJobId: string | undefined;
  #pending = false;
  #missed = false;
  #closed = false;

  constructor(options: ChangeFeedOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    if (this.#options.listen) await this.#startListening();
    else await this.#startPolling();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#listener?.close();
  }

  async #startListening(): Promise<void> {
    const { listenConfig, channel, label, logger, pollInterval } = this.#options;
    this.#listener = new Listener({
      config: listenConfig,
      channel,
      label,
      logger,
      onNotification: (payload) => this.#onNotification(payload),
      onReconnect: () => this.#announceChange(true),
    });
    await this.#listener.start();
    this.#timer = setInterval(() => this.#announceChange(), pollInterval);
    this.#timer.unref();
  }

  async #startPolling(): Promise<void> {
    this.#lastJobId = await this.#options.lastJobId();
    let looks = 0;
    this.#timer = setInterval(() => {
      this.#options.lastJobId().then(
        (id) => {
          if (id !== this.#lastJobId || ++looks % 10 === 0) this.#announceChange(true);
          this.#lastJobId = id;
        },
        (error: unknown) =>
          this.#options.logger.warn(
            { store: this.#options.label, err: (error as Error).message },
            'offload: polling PostgreSQL failed',
          ),
      );
    }, this.#options.pollInterval);
    this.#timer.unref();
  }

  #onNotification(text: string): void {
    if (this.#closed) return;
    const head = notificationHead(text);
    if (head === null || head.origin === this.#options.origin) return;
    if (CHANGE_KINDS.has(head.kind)) this.#announceChange();
    const events = this.#options.events;
    if (!events.listensToJobs()) return;
    for (const event of decodeNotification(text, this.#options.origin, this.#options.clock.now()) ??
      []) {
      events.emit(event.name, event.payload as never);
    }
  }

  /**
   * Emits one `store:changed` per turn of the event loop, however many reasons arrived; `missed`
   * when job events may have been lost (a reconnect) or are not carried at all (poll-only).
   */
  #announceChange(missed = false): void {
    this.#missed ||= missed;
    if (this.#pending || this.#closed) return;
    this.#pending = true;
    setImmediate(() => {
      this.#pending = false;
      const change = this.#missed ? { missed: true } : {};
      this.#missed = false;
      if (!this.#closed) this.#options.events.emit('store:changed', change);
    });
  }
}
