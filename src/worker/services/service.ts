import type { Logger } from 'pino';
import type { Store } from '../../store/contract.ts';

/**
 * A background part of a worker with one job (renewing leases, rescuing jobs, pruning, the
 * heartbeat). `start()` begins its work and `stop()` ends it; `stop()` is safe before `start()`
 * and safe twice (River's rule), so a shutdown can stop every service without asking which ran.
 * A round already under way when `stop()` is called finishes; no round begins after it.
 */
export interface Service {
  start(): void;
  stop(): void;
}

/**
 * Runs `action` every `ms` milliseconds between `start()` and `stop()`: the one timer of every
 * periodic service. Only a `keepAlive` timer holds the process open, as a listening server would;
 * the others are unref'd. `action` must not reject (each service logs its own failures).
 */
export class IntervalService implements Service {
  readonly #ms: number;
  readonly #action: () => Promise<void> | void;
  readonly #keepAlive: boolean;
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number, action: () => Promise<void> | void, { keepAlive = false } = {}) {
    this.#ms = ms;
    this.#action = action;
    this.#keepAlive = keepAlive;
  }

  /** Starts the timer; a second call does nothing. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#action(), this.#ms);
    if (!this.#keepAlive) this.#timer.unref();
  }

  /** Stops the timer; safe before `start()` and twice. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** What every service of a worker gets: its store, its logger, and how to report a failure. */
export interface ServiceDeps {
  store: Store;
  log: Logger;
  /** Logs a failure and emits it as the worker's `error`. */
  fail(error: unknown, message: string): void;
}
