import { EventEmitter } from 'node:events';
import type { JobEvent, JobOutcome, StoreEvents } from './contract.ts';

/** The typed event hub a store owns; listeners that throw cannot break the store. */
export class StoreEventHub {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<E extends keyof StoreEvents>(event: E, listener: (payload: StoreEvents[E]) => void): () => void {
    const safe = (payload: StoreEvents[E]) => {
      try {
        listener(payload);
      } catch (error) {
        process.emitWarning(`offload: a "${event}" listener threw: ${(error as Error)?.message ?? error}`);
      }
    };
    this.#emitter.on(event, safe);
    return () => this.#emitter.off(event, safe);
  }

  emit<E extends keyof StoreEvents>(event: E, payload: StoreEvents[E]): void {
    if (this.#emitter.listenerCount(event) > 0) this.#emitter.emit(event, payload);
  }

  /** Announces the state change a recorded outcome made. */
  emitOutcome(outcome: JobOutcome, row: { id: string | number; queue: string; task: string }): void {
    const event = <S extends JobEvent['state']>(state: S) => ({ id: String(row.id), queue: row.queue, task: row.task, attempt: outcome.lease.attempt, state });
    if (outcome.kind === 'succeeded') this.#emitMade('job:succeeded', () => event('succeeded'));
    else if (outcome.kind === 'failed' && outcome.retryAt === null) this.#emitMade('job:failed', () => ({ ...event('failed'), error: outcome.error }));
    else if (outcome.kind === 'failed') this.#emitMade('job:retrying', () => ({ ...event('scheduled'), error: outcome.error, runAt: outcome.retryAt! }));
    else this.#emitMade('job:enqueued', () => event('queued'));
  }

  /** Emits a payload made only when someone listens: outcomes are on the hot path. */
  #emitMade<E extends keyof StoreEvents>(name: E, make: () => StoreEvents[E]): void {
    if (this.#emitter.listenerCount(name) > 0) this.#emitter.emit(name, make());
  }

  listens(event: keyof StoreEvents): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  /** True when anyone listens to a `job:*` event. */
  listensToJobs(): boolean {
    return this.#emitter.eventNames().some((name) => typeof name === 'string' && name.startsWith('job:'));
  }

  clear(): void {
    this.#emitter.removeAllListeners();
  }
}
