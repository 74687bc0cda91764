import type { LimitsState, QueueLimits, RateWindow, TokenState } from '../store/contract.ts';
import { relativeTime, table } from './output.ts';

/** Overrides a one-line summary names before it says how many more there are. */
const OVERRIDES_SHOWN = 5;

/** A window in the words the flags take: 60000 → `1m`, 1500 → `1500ms`. */
export function windowWords(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function rateWords(rate: RateWindow): string {
  return `${rate.limit}/${windowWords(rate.per)}`;
}

/** Limits in one line: `concurrency 5 · per key 2 (acme 10) · rate 50/1s · key rate 10/1m · strict order`. */
export function limitsLine(limits: QueueLimits): string {
  const parts: string[] = [];
  if (limits.concurrency !== undefined) parts.push(`concurrency ${limits.concurrency}`);
  const overrides = Object.entries(limits.keyOverrides ?? {});
  if (limits.keyConcurrency !== undefined || overrides.length > 0) {
    const shown = overrides.slice(0, OVERRIDES_SHOWN).map(([key, limit]) => `${key} ${limit}`);
    if (overrides.length > OVERRIDES_SHOWN)
      shown.push(`${overrides.length - OVERRIDES_SHOWN} more`);
    const base =
      limits.keyConcurrency === undefined ? 'per key' : `per key ${limits.keyConcurrency}`;
    parts.push(shown.length ? `${base} (${shown.join(', ')})` : base);
  }
  if (limits.rate) parts.push(`rate ${rateWords(limits.rate)}`);
  if (limits.keyRate) parts.push(`key rate ${rateWords(limits.keyRate)}`);
  if (limits.order) parts.push(`${limits.order} order`);
  return parts.length ? parts.join(' · ') : 'none';
}

/** Which layer applies, in words. */
export function layerWords(state: LimitsState): string {
  if (state.runtime === null) return 'declared by its tasks';
  return state.declared === null ? 'set at runtime' : 'set at runtime, over the declared ones';
}

function tokensWords(tokens: TokenState | null, rate: RateWindow | undefined, now: number): string {
  if (!tokens || !rate) return '-';
  const next = tokens.nextAt === null ? '' : `, next ${relativeTime(tokens.nextAt, now)}`;
  return `${tokens.left}/${rate.limit} left${next}`;
}

function heldWords(heldUntil: number | null, now: number): string {
  return heldUntil === null
    ? '-'
    : `${new Date(heldUntil).toISOString()} (${relativeTime(heldUntil, now)})`;
}

/** What a limited queue holds back now, in one line: `running 3/5 · tokens 12/50 left · held back 7`. */
export function liveLine(state: LimitsState, now: number): string {
  const { limits } = state;
  const parts = [
    `running ${state.running}${limits.concurrency === undefined ? '' : `/${limits.concurrency}`}`,
  ];
  if (limits.rate) parts.push(`tokens ${tokensWords(state.tokens, limits.rate, now)}`);
  parts.push(`held back ${state.heldBack}`);
  if (state.heldUntil !== null) parts.push(`held until ${heldWords(state.heldUntil, now)}`);
  return parts.join(' · ');
}

/** The busiest keys in one line: `acme 2/4, globex 1/2 (held in 3 s)`; empty without keys. */
export function keysLine(state: LimitsState, now: number, shown = 5): string {
  const keys = state.keys.filter((key) => key.key !== '').slice(0, shown);
  return keys
    .map((key) => {
      const held =
        key.heldUntil === null ? '' : ` (held until ${relativeTime(key.heldUntil, now)})`;
      return `${key.key} ${key.running}${key.limit === null ? '' : `/${key.limit}`}${held}`;
    })
    .join(', ');
}

/** The lines `offload queues` prints under its table for each limited queue. */
export function queueLimitsLines(states: readonly LimitsState[], now: number): string {
  const width = Math.max(...states.map((state) => state.queue.length));
  const lines: string[] = [];
  for (const state of states) {
    const indent = ' '.repeat(width + 2);
    lines.push(`${state.queue.padEnd(width)}  ${limitsLine(state.limits)} (${layerWords(state)})`);
    lines.push(`${indent}${liveLine(state, now)}`);
    const keys = keysLine(state, now);
    if (keys) lines.push(`${indent}keys: ${keys}`);
  }
  return lines.join('\n');
}

/** `offload limits <queue>`: both layers, the live state and the busiest keys. */
export function limitsReport(state: LimitsState, now: number): string {
  const { limits } = state;
  const rows: Array<[string, string]> = [
    ['queue', state.queue],
    ['applies', `${limitsLine(limits)} (${layerWords(state)})`],
    ['declared', state.declared === null ? '-' : limitsLine(state.declared)],
    ['runtime', state.runtime === null ? '-' : limitsLine(state.runtime)],
    [
      'running',
      `${state.running}${limits.concurrency === undefined ? '' : ` of ${limits.concurrency}`}`,
    ],
    ['tokens', tokensWords(state.tokens, limits.rate, now)],
    ['held until', heldWords(state.heldUntil, now)],
    ['held back', `${state.heldBack} due job${state.heldBack === 1 ? '' : 's'}`],
  ];
  const text = rows.map(([label, value]) => `${label.padEnd(10)} ${value}`).join('\n');
  if (state.keys.length === 0) return text;
  const keyRows = state.keys.map((key) => [
    key.key === '' ? '(no key)' : key.key,
    String(key.running),
    key.limit === null ? '-' : String(key.limit),
    tokensWords(key.tokens, limits.keyRate, now),
    heldWords(key.heldUntil, now),
  ]);
  return `${text}\n\n${table(['KEY', 'RUNNING', 'LIMIT', 'TOKENS', 'HELD UNTIL'], keyRows)}`;
}
