import type { KeyState, LimitsState, TokenState } from '../store/contract.ts';

/** The API's view of a queue's flow control: the store's {@link LimitsState}, its times in ISO 8601. */
export function toLimitsView(state: LimitsState) {
  return {
    queue: state.queue,
    limits: state.limits,
    declared: state.declared,
    runtime: state.runtime,
    running: state.running,
    tokens: tokensView(state.tokens),
    heldUntil: isoOrNull(state.heldUntil),
    heldBack: state.heldBack,
    keys: state.keys.map((key: KeyState) => ({
      key: key.key,
      running: key.running,
      limit: key.limit,
      tokens: tokensView(key.tokens),
      heldUntil: isoOrNull(key.heldUntil),
    })),
  };
}

export type LimitsView = ReturnType<typeof toLimitsView>;

function tokensView(tokens: TokenState | null) {
  return tokens && { left: tokens.left, nextAt: isoOrNull(tokens.nextAt) };
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
