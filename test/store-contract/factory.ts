import type { Clock } from '../../src/clock.ts';
import type { Store } from '../../src/store/contract.ts';

/**
 * How the contract suite gets stores. Every `open()` of one factory reaches the same data (the
 * same SQLite file, the same PostgreSQL schema) through a new connection, as separate processes would.
 */
export interface StoreFactory {
  name: string;
  open(options?: { clock?: Clock }): Promise<Store>;
  /** Drops the data (file, schema) after the suite. */
  destroy(): Promise<void>;
}
