import type { StatsSnapshot } from './stats.ts';

type Listener = () => void;

/**
 * The page's side of the stats worker: the latest snapshot, a "store changed" pulse that views
 * use to refetch (at most a few times a second), and whether the stream is connected.
 */
class LiveFeed {
  stats: StatsSnapshot | undefined;
  connected = false;
  readonly #statsListeners = new Set<Listener>();
  readonly #changeListeners = new Set<Listener>();
  #worker: Worker | undefined;

  start(): void {
    if (this.#worker) return;
    this.#worker = new Worker('/assets/stats-worker.js', { type: 'module' });
    this.#worker.onmessage = (
      event: MessageEvent<{ type: string; stats?: StatsSnapshot; open?: boolean }>,
    ) => {
      const message = event.data;
      if (message.type === 'stats') {
        this.stats = message.stats;
        for (const listener of this.#statsListeners) listener();
      } else if (message.type === 'changed') {
        for (const listener of this.#changeListeners) listener();
      } else if (message.type === 'connection') {
        this.connected = message.open === true;
      }
    };
  }

  onStats(listener: Listener): () => void {
    this.#statsListeners.add(listener);
    return () => this.#statsListeners.delete(listener);
  }

  onChange(listener: Listener): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }
}

export const live = new LiveFeed();
