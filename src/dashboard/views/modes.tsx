import { api } from '../api.ts';
import { useLiveData } from '../hooks.ts';

interface SwitchRow {
  name: string;
  group: string;
  medianNs?: number | null;
  median?: number | null;
  unit?: string;
  reason?: string | null;
  [extra: string]: unknown;
}

/** The switching costs `offload bench switch` measured on this machine. */
export function ModesView() {
  const result = useLiveData(() => api<{ measuredAt: string | null; rows: SwitchRow[]; machine?: Record<string, unknown> }>('GET', '/v1/modes'), [], false);
  return (
    <>
      <h1>Modes</h1>
      <p>What a hand-off costs on this machine: a coroutine only yields, a thread posts a message, a process crosses a pipe.</p>
      {result.error && <p class="error" role="alert">{result.error}</p>}
      {result.data && result.data.rows.length === 0 && (
        <p>
          No measurement yet. Run <code>npx offload bench switch</code> on this machine; the result appears here.
        </p>
      )}
      {result.data && result.data.rows.length > 0 && (
        <>
          <p>Measured {result.data.measuredAt ? new Date(result.data.measuredAt).toLocaleString() : ''}.</p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Mode</th>
                  <th scope="col">Hand-off</th>
                  <th scope="col" class="num">Median</th>
                  <th scope="col">Note</th>
                </tr>
              </thead>
              <tbody>
                {result.data.rows.map((row) => (
                  <tr>
                    <td>{row.group}</td>
                    <th scope="row">{row.name}</th>
                    <td class="num">{formatCost(row)}</td>
                    <td>{row.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

function formatCost(row: SwitchRow): string {
  const ns = typeof row.medianNs === 'number' ? row.medianNs : typeof row.median === 'number' ? row.median : null;
  if (ns === null) return '–';
  if (row.unit && row.unit !== 'ns') return `${ns} ${row.unit}`;
  if (ns < 1000) return `${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1000).toFixed(1)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}
