/**
 * `npm run example:slow-report:load`: the same arrival rate sent first to the inline endpoint, then
 * to the offloaded one, while a probe checks `/health` every 200 ms. Requests arrive on a clock
 * (open loop), as users do: a slow answer does not slow the arrivals. Flags: --url, --rate
 * (requests/s, default 2), --seconds (default 15), --timeout (ms a client waits, default 5000).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  url: string;
  rate: number;
  seconds: number;
  timeoutMs: number;
}

/** Answers of one endpoint under load; latencies of answered requests only, in ms. */
export interface PhaseStats {
  sent: number;
  answered: number;
  statuses: Record<string, number>;
  timedOut: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadReport {
  inline: { requests: PhaseStats; health: PhaseStats };
  offloaded: {
    requests: PhaseStats;
    health: PhaseStats;
    jobIds: string[];
    succeeded: number;
    drainSeconds: number;
  };
}

interface Outcome {
  status: number | 'timeout' | 'error';
  ms: number;
  body: unknown;
}

async function timedFetch(url: string, init: RequestInit, timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const body: unknown = await response.json().catch(() => null);
    return { status: response.status, ms: performance.now() - started, body };
  } catch (error) {
    return {
      status: (error as Error).name === 'TimeoutError' ? 'timeout' : 'error',
      ms: performance.now() - started,
      body: null,
    };
  }
}

/** Fires `send` `rate` times a second for `seconds`, without waiting for answers; resolves with all outcomes. */
async function openLoop(
  rate: number,
  seconds: number,
  send: () => Promise<Outcome>,
): Promise<Outcome[]> {
  const pending: Array<Promise<Outcome>> = [];
  const total = Math.round(rate * seconds);
  const start = performance.now();
  for (let n = 0; n < total; n++) {
    const due = start + (n * 1000) / rate;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    pending.push(send());
  }
  return Promise.all(pending);
}

function stats(outcomes: Outcome[]): PhaseStats {
  const answered = outcomes.filter((o) => typeof o.status === 'number');
  const ms = answered.map((o) => o.ms).sort((a, b) => a - b);
  const at = (p: number) =>
    ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!) : 0;
  const statuses: Record<string, number> = {};
  for (const o of outcomes) statuses[String(o.status)] = (statuses[String(o.status)] ?? 0) + 1;
  return {
    sent: outcomes.length,
    answered: answered.length,
    statuses,
    timedOut: outcomes.length - answered.length,
    p50: at(0.5),
    p99: at(0.99),
    max: Math.round(ms.at(-1) ?? 0),
  };
}

/** Load and a /health probe side by side. */
async function phase(
  options: LoadOptions,
  send: () => Promise<Outcome>,
): Promise<{ outcomes: Outcome[]; health: PhaseStats }> {
  const probes: Array<Promise<Outcome>> = [];
  const probe = setInterval(
    () => probes.push(timedFetch(`${options.url}/health`, {}, options.timeoutMs)),
    200,
  );
  const outcomes = await openLoop(options.rate, options.seconds, send);
  clearInterval(probe);
  return { outcomes, health: stats(await Promise.all(probes)) };
}

/**
 * Waits until the app answers /health quickly ten times in a row, a second of quiet: requests whose
 * clients gave up are still in the app's backlog and burn its CPU until they are done.
 */
async function untilIdle(url: string): Promise<void> {
  for (let quick = 0; quick < 10;) {
    const outcome = await timedFetch(`${url}/health`, {}, 120_000);
    quick = outcome.status === 200 && outcome.ms < 50 ? quick + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function untilDone(url: string, ids: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let open = [...ids];
  let succeeded = 0;
  while (open.length && Date.now() < deadline) {
    const states = await Promise.all(
      open.map((id) => timedFetch(`${url}/report/${id}`, {}, 10_000)),
    );
    const left: string[] = [];
    states.forEach((outcome, i) => {
      const state = (outcome.body as { state?: string } | null)?.state;
      if (state === 'succeeded') succeeded++;
      else if (state !== 'failed' && state !== 'cancelled') left.push(open[i]!);
    });
    open = left;
    if (open.length) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return succeeded;
}

/** Runs both phases against a running app. */
export async function runLoad(options: LoadOptions, drainTimeoutMs = 600_000): Promise<LoadReport> {
  const inline = await phase(options, () =>
    timedFetch(`${options.url}/report/inline`, {}, options.timeoutMs),
  );
  await untilIdle(options.url);
  const post = () =>
    timedFetch(
      `${options.url}/report`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customer: 'acme' }),
      },
      options.timeoutMs,
    );
  const offloaded = await phase(options, post);
  const jobIds = offloaded.outcomes.flatMap((o) =>
    o.status === 202 ? [(o.body as { id: string }).id] : [],
  );
  const started = performance.now();
  const succeeded = await untilDone(options.url, jobIds, drainTimeoutMs);
  return {
    inline: { requests: stats(inline.outcomes), health: inline.health },
    offloaded: {
      requests: stats(offloaded.outcomes),
      health: offloaded.health,
      jobIds,
      succeeded,
      drainSeconds: Math.round((performance.now() - started) / 100) / 10,
    },
  };
}

function table(report: LoadReport, options: LoadOptions): string {
  const row = (name: string, s: PhaseStats) =>
    `| ${name} | ${s.sent} | ${Object.entries(s.statuses)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')} | ${s.p50} | ${s.p99} | ${s.max} |`;
  return [
    `${options.rate} requests/s for ${options.seconds} s, clients give up after ${options.timeoutMs} ms; /health probed every 200 ms.`,
    '',
    '| endpoint | sent | answers | p50 ms | p99 ms | max ms |',
    '|---|---:|---|---:|---:|---:|',
    row('GET /report/inline', report.inline.requests),
    row('GET /health while inline runs', report.inline.health),
    row('POST /report (offloaded)', report.offloaded.requests),
    row('GET /health while offloaded runs', report.offloaded.health),
    '',
    `Offloaded jobs: ${report.offloaded.succeeded} of ${report.offloaded.jobIds.length} succeeded; the worker threads finished the backlog ${report.offloaded.drainSeconds} s after the last request.`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      rate: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '15' },
      timeout: { type: 'string', default: '5000' },
    },
  });
  const options = {
    url: values.url,
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    timeoutMs: Number(values.timeout),
  };
  console.log(`loading ${options.url}: inline first, then offloaded…`);
  console.log(table(await runLoad(options), options));
}
