import pg from 'pg';
import type { Logger } from 'pino';

export interface ListenerOptions {
  /** pg client config (connection string, timeouts, application name). */
  config: pg.ClientConfig;
  channel: string;
  /** Password-free description for logs. */
  label: string;
  logger: Logger;
  onNotification(payload: string): void;
  /** Called after a reconnect: notifications may have been missed, so "look again". */
  onReconnect(): void;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

/**
 * Holds one connection that LISTENs on the store's channel. When the connection drops (a server
 * restart, a killed backend, a network cut) it reconnects with exponential backoff (100 ms doubling
 * to 5 s), listens again, logs both, and reports the reconnect so callers look for missed work.
 */
export class Listener {
  readonly #options: ListenerOptions;
  #client: pg.Client | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(options: ListenerOptions) {
    this.#options = options;
  }

  /** Connects and listens; rejects if the first attempt fails (start-up errors are the caller's). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#options.config);
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.payload !== undefined) this.#options.onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#options.channel.replaceAll('"', '""')}"`);
    } catch (error) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    this.#options.logger.warn(
      { store: this.#options.label, err: error.message },
      'offload: lost the LISTEN connection to PostgreSQL; reconnecting',
    );
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    const delay = Math.min(FIRST_BACKOFF_MS * 2 ** this.#failures, MAX_BACKOFF_MS);
    this.#retryTimer = setTimeout(() => void this.#retry(), delay);
    this.#retryTimer.unref();
  }

  async #retry(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#connect();
    } catch (error) {
      this.#failures++;
      this.#options.logger.warn(
        { store: this.#options.label, err: (error as Error).message, attempt: this.#failures },
        'offload: reconnecting to PostgreSQL failed; trying again',
      );
      this.#scheduleRetry();
      return;
    }
    if (this.#closed) return;
    this.#options.logger.warn(
      { store: this.#options.label, attempts: this.#failures + 1 },
      'offload: reconnected to PostgreSQL and listening again',
    );
    this.#failures = 0;
    this.#options.onReconnect();
  }
}
