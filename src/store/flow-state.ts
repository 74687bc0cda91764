import { hasLimits, keyLimit } from '../core/flow-limits.ts';
import type { KeyState, LimitsState, QueueLimits, RateWindow, TokenState } from './contract.ts';

/**
 * What both stores compute the same way about flow control: which layer applies, what a sliding
 * rate window allows now, and how a stored limits row reads as a {@link LimitsState}.
 */

/** The runtime layer when set, else the declared one; null when neither limits anything. */
export function effectiveLimits(
  declared: QueueLimits | null,
  runtime: QueueLimits | null,
): QueueLimits | null {
  const limits = runtime ?? declared;
  return hasLimits(limits) ? limits : null;
}

/** Start times still inside the window at `now`, oldest first. */
export function inWindow(starts: readonly number[], rate: RateWindow, now: number): number[] {
  const from = now - rate.per;
  return starts.filter((at) => at > from);
}

/** Starts the window allows at `now`, and when the next one frees if none does. */
export function windowTokens(starts: readonly number[], rate: RateWindow, now: number): TokenState {
  const live = inWindow(starts, rate, now);
  const left = Math.max(0, rate.limit - live.length);
  // The start that leaves the window first is the one `limit` back from the newest.
  const nextAt = left > 0 ? null : live[live.length - rate.limit]! + rate.per;
  return { left, nextAt };
}

/** The window after `count` starts at `now`, pruned to what it still has to remember. */
export function afterStarts(
  starts: readonly number[],
  rate: RateWindow,
  now: number,
  count: number,
): number[] {
  const live = inWindow(starts, rate, now);
  for (let i = 0; i < count; i++) live.push(now);
  return live.slice(-rate.limit);
}

/** A stored limits row, as either store reads it. */
export interface LimitsRecord {
  queue: string;
  declared: QueueLimits | null;
  runtime: QueueLimits | null;
  running: number;
  starts: number[];
  heldUntil: number | null;
}

export interface KeyRecord {
  key: string;
  running: number;
  starts: number[];
  heldUntil: number | null;
}

/** The public view of a limits row and its busiest keys. */
export function limitsState(
  record: LimitsRecord,
  keys: readonly KeyRecord[],
  heldBack: number,
  now: number,
): LimitsState {
  const limits = effectiveLimits(record.declared, record.runtime) ?? {};
  return {
    queue: record.queue,
    limits,
    declared: record.declared,
    runtime: record.runtime,
    running: record.running,
    tokens: limits.rate ? windowTokens(record.starts, limits.rate, now) : null,
    heldUntil: record.heldUntil !== null && record.heldUntil > now ? record.heldUntil : null,
    heldBack,
    keys: keys.map((key): KeyState => ({
      key: key.key,
      running: key.running,
      limit: key.key === '' ? null : keyLimit(limits, key.key),
      tokens:
        limits.keyRate && key.key !== '' ? windowTokens(key.starts, limits.keyRate, now) : null,
      heldUntil: key.heldUntil !== null && key.heldUntil > now ? key.heldUntil : null,
    })),
  };
}

/** Busiest keys a {@link LimitsState} lists. */
export const TOP_KEYS = 20;

/** Keys one claim looks at, at most: a claim's cost stays bounded however many keys wait. */
export function keysPerClaim(budget: number): number {
  return Math.max(64, 4 * budget);
}
