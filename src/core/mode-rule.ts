/**
 * The rule that places a task between `inline` and `thread` from measured costs, used by
 * `offload bench task` to recommend a mode and by `mode: 'auto'` to move a task while it runs.
 *
 * A run that holds the event loop costs every other job on that loop its duration; handing the run
 * to a thread costs one round trip instead. Inline wins while a run holds the loop for less than
 * INLINE_FACTOR thread round trips (the hand-off would cost a good share of the work it moves, and
 * a short block is harmless); above that, a thread wins. To keep `auto` from flapping, a task in a
 * thread comes back inline only once its runs fall under half that bound.
 */
export const INLINE_FACTOR = 4;

/** A thread round trip assumed before one is measured (ms): DESIGN.md's two-CPU figure on a VM. */
export const DEFAULT_HANDOFF_MS = 0.05;

export interface ModeEvidence {
  /** How long one run holds the event loop when run inline (ms): its synchronous CPU time. */
  blockMs: number;
  /** What one hand-off to a thread and back costs (ms). */
  handoffMs: number;
}

export interface ModeChoice {
  mode: 'inline' | 'thread';
  reason: string;
}

const ms = (value: number) =>
  value >= 1 ? `${value.toFixed(1)} ms` : `${(value * 1000).toFixed(value >= 0.01 ? 0 : 1)} µs`;

/** Applies the rule; `current` (for `auto`) adds the hysteresis. */
export function chooseMode(
  evidence: ModeEvidence,
  current: 'inline' | 'thread' = 'inline',
): ModeChoice {
  const bound = INLINE_FACTOR * evidence.handoffMs;
  const limit = current === 'thread' ? bound / 2 : bound;
  const facts = `a run holds the event loop for ${ms(evidence.blockMs)}; a thread round trip costs ${ms(evidence.handoffMs)}`;
  if (evidence.blockMs < limit) {
    return {
      mode: 'inline',
      reason: `${facts}: under ${current === 'thread' ? INLINE_FACTOR / 2 : INLINE_FACTOR}× the round trip (${ms(limit)}), so the hand-off would cost more than it frees`,
    };
  }
  return {
    mode: 'thread',
    reason: `${facts}: over ${current === 'thread' ? INLINE_FACTOR / 2 : INLINE_FACTOR}× the round trip (${ms(limit)}), so a thread keeps the loop free for other jobs`,
  };
}
