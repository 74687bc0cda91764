import { ErrorCodes } from '../../core/errors.ts';

const FIRST_COOLDOWN_MS = 1_000;
const MAX_COOLDOWN_MS = 60_000;
/** Crashes before `ready` in a row that open the breaker when no load error explains them. */
const CRASHES_TO_OPEN = 3;

/**
 * Stops a pool from respawning workers that cannot start. A task module that fails to load opens
 * it at once; workers that die before they are ready open it after three in a row. While open,
 * `run` fails fast with the start-up error; after a cool-down (1 s, doubling up to 60 s) one
 * start is tried again, and a worker that gets ready closes it.
 */
export class StartBreaker {
  #failures = 0;
  #opens = 0;
  #openUntil = 0;
  #error: Error | undefined;

  /** A worker failed to start; `immediately` opens the breaker whatever the count (the spawn itself failed). */
  failure(error: Error, now: number, immediately = false): void {
    this.#failures++;
    this.#error = error;
    const loadError = (error as { code?: unknown }).code === ErrorCodes.TASK_MODULE;
    if (immediately || loadError || this.#failures >= CRASHES_TO_OPEN) {
      this.#openUntil = now + Math.min(MAX_COOLDOWN_MS, FIRST_COOLDOWN_MS * 2 ** this.#opens++);
    }
  }

  success(): void {
    this.#failures = 0;
    this.#opens = 0;
    this.#openUntil = 0;
    this.#error = undefined;
  }

  /** The start-up error while the breaker is open; undefined when a start may be tried. */
  blocking(now: number): Error | undefined {
    return now < this.#openUntil ? this.#error : undefined;
  }
}
