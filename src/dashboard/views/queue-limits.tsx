import type { ApiLimits, ApiTokens } from '../../client/resources.ts';
import type { QueueInfo } from '../api.ts';
import { formatMs } from '../hooks.ts';

type QueueLimits = ApiLimits['limits'];
type RateWindow = NonNullable<QueueLimits['rate']>;

/** Keys the overview lists per limited queue, busiest first. */
const KEYS_SHOWN = 10;

function windowWords(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return ms === size ? unit : `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

function rateWords(rate: RateWindow): string {
  return `${rate.limit} per ${windowWords(rate.per)}`;
}

/** Limits in one line: `5 at once · 2 per key (acme 10) · 50 per s · strict order`. */
export function limitsSummary(limits: QueueLimits): string {
  const parts: string[] = [];
  if (limits.concurrency !== undefined) parts.push(`${limits.concurrency} at once`);
  const overrides = Object.entries(limits.keyOverrides ?? {});
  if (limits.keyConcurrency !== undefined || overrides.length > 0) {
    const base =
      limits.keyConcurrency === undefined ? 'per key' : `${limits.keyConcurrency} per key`;
    const named = overrides.slice(0, 3).map(([key, limit]) => `${key} ${limit}`);
    if (overrides.length > 3) named.push(`${overrides.length - 3} more`);
    parts.push(named.length ? `${base} (${named.join(', ')})` : base);
  }
  if (limits.rate) parts.push(`rate ${rateWords(limits.rate)}`);
  if (limits.keyRate) parts.push(`key rate ${rateWords(limits.keyRate)}`);
  if (limits.order) parts.push(`${limits.order} order`);
  return parts.length ? parts.join(' · ') : 'none (lifted at runtime)';
}

/** An ISO time as the local clock time and how far off it is: `12:00:03 (in 2.50 s)`. */
function whenWords(iso: string | null): string {
  if (iso === null) return '–';
  const ms = Date.parse(iso) - Date.now();
  const wait = ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : formatMs(ms);
  return `${new Date(iso).toLocaleTimeString()} (${ms > 0 ? `in ${wait}` : 'now'})`;
}

function tokensWords(tokens: ApiTokens | null, rate: RateWindow | undefined): string {
  if (!tokens || !rate) return '–';
  return `${tokens.left} of ${rate.limit} left${tokens.nextAt ? `, next ${whenWords(tokens.nextAt)}` : ''}`;
}

function layerWords(state: ApiLimits): string {
  if (state.runtime === null) return 'declared by its tasks';
  return state.declared === null ? 'set at runtime' : 'set at runtime, over the declared ones';
}

/** Flow control of every limited queue: what applies, what runs, the tokens left, the holds and the busiest keys. */
export function QueueLimitsSection({ queues }: { queues: readonly QueueInfo[] }) {
  const limited = queues.flatMap((queue) => (queue.limits ? [queue.limits] : []));
  if (limited.length === 0) return null;
  return (
    <section aria-labelledby="limits-heading">
      <h2 id="limits-heading">Flow control</h2>
      <div class="limits">
        {limited.map((state) => (
          <QueueLimitsCard state={state} />
        ))}
      </div>
    </section>
  );
}

function QueueLimitsCard({ state }: { state: ApiLimits }) {
  const { limits } = state;
  const keys = state.keys.slice(0, KEYS_SHOWN);
  return (
    <article class="limits-card" data-testid="queue-limits" data-queue={state.queue}>
      <h3>{state.queue}</h3>
      <dl class="facts">
        <dt>Limits</dt>
        <dd data-testid="limits-applied">
          {limitsSummary(limits)} <small class="inline">{layerWords(state)}</small>
        </dd>
        <dt>Running</dt>
        <dd data-testid="limits-running">
          {state.running}
          {limits.concurrency !== undefined && ` of ${limits.concurrency}`}
        </dd>
        <dt>Tokens</dt>
        <dd data-testid="limits-tokens">{tokensWords(state.tokens, limits.rate)}</dd>
        <dt>Held until</dt>
        <dd data-testid="limits-held-until">{whenWords(state.heldUntil)}</dd>
        <dt>Held back</dt>
        <dd data-testid="limits-held-back">
          {state.heldBack} due job{state.heldBack === 1 ? '' : 's'}
        </dd>
      </dl>
      {keys.length > 0 && (
        <div class="table-wrap">
          <table aria-label={`Busiest keys of ${state.queue}`}>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col" class="num">
                  Running
                </th>
                <th scope="col">Tokens</th>
                <th scope="col">Held until</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr data-key={key.key}>
                  <th scope="row">{key.key === '' ? '(no key)' : key.key}</th>
                  <td class="num">
                    {key.running}
                    {key.limit !== null && ` of ${key.limit}`}
                  </td>
                  <td>{tokensWords(key.tokens, limits.keyRate)}</td>
                  <td>{whenWords(key.heldUntil)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}
