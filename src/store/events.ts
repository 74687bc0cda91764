import { EventEmitter } from 'node:events';
import type { JobOutcome, StoreEvents } from './contract.ts';

/** The typed event hub a store owns; listeners that throw cannot break the store. */
export class StoreEventHub {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  on<E extends keyof StoreEvents>(
    event: E,
    listener: (payload: StoreEvents[E]) => void,
  ): () => void {
    const safe = (payload: StoreEvents[E]) => {
      try {
        listener(payload);
      } catch (error) {
        process.emitWarning(
          `offload: a "${event}" listener threw: ${(error as Error)?.message ?? error}`,
        );
      }
    };
    this.#emitter.on(event, safe);
    return () => this.#emitter.off(event, safe);
  }

  emit<E extends keyof StoreEvents>(event: E, payload: StoreEvents[E]): void {
    if (this.#emitter.listenerCount(event) > 0) this.#emitter.emit(event, payload);
  }

  /** Announces the state change a recorded outcome made; nothing is built when nobody listens (outcomes are on the hot path). */
  emitOutcome(
    outcome: JobOutcome,
    row: { id: string | number; queue: string; task: string },
  ): void {
    const name = outcomeEvent(outcome);
    if (name === undefined || !this.listens(name)) return;
    const base = {
      id: String(row.id),
      queue: row.queue,
      task: row.task,
      attempt: outcome.lease.attempt,
    };
    if (outcome.kind === 'succeeded') this.emit('job:succeeded', { ...base, state: 'succeeded' });
    else if (outcome.kind !== 'failed') this.emit('job:enqueued', { ...base, state: 'queued' });
    else if (outcome.retryAt === null)
      this.emit('job:failed', { ...base, state: 'failed', error: outcome.error });
    else
      this.emit('job:retrying', {
        ...base,
        state: 'scheduled',
        error: outcome.error,
        runAt: outcome.retryAt,
      });
  }

  listens(event: keyof StoreEvents): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  /** True when anyone listens to a `job:*` event. */
  listensToJobs(): boolean {
    return this.#emitter
      .eventNames()
      .some((name) => typeof name === 'string' && name.startsWith('job:'));
  }

  clear(): void {
    this.#emitter.removeAllListeners();
  }
}

/** The event an outcome makes; none for a claimed job's start, announced with its claim. */
function outcomeEvent(outcome: JobOutcome): keyof StoreEvents | undefined {
  switch (outcome.kind) {
    case 'succeeded':
      return 'job:succeeded';
    case 'started':
      return undefined;
    case 'failed':
      return outcome.retryAt === null ? 'job:failed' : 'job:retrying';
    default:
      return 'job:enqueued';
  }
}
