/**
 * One disk flush shared by every enqueue that needs one. A flush covers what committed before it
 * started, so callers that ask while a flush runs share the next one, which starts when it ends: at
 * most one runs and one waits, however many enqueues commit at once.
 */
export class SharedFlush {
  readonly #flush: () => Promise<unknown>;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(flush: () => Promise<unknown>) {
    this.#flush = flush;
  }

  /** Resolves after a flush that started after this call has ended; rejects if that flush failed. */
  request(): Promise<void> {
    if (!this.#running) return this.#start();
    this.#next ??= this.#running.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    return this.#next;
  }

  #startNext(): Promise<void> {
    this.#next = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const running = this.#flush().then(() => undefined);
    this.#running = running;
    const clear = () => {
      if (this.#running === running) this.#running = undefined;
    };
    running.then(clear, clear);
    return running;
  }
}
