import { api } from '../api.ts';
import { useLiveData } from '../hooks.ts';

interface SwitchRow {
  id: string;
  name: string;
  group: string;
  placement: string;
  /** Nanoseconds per operation. */
  median: number | null;
  p25: number | null;
  p75: number | null;
  reason?: string;
}

const PLACEMENT: Record<string, string> = {
  any: 'unpinned',
  'one-cpu': 'both on 1 CPU',
  'two-cpus': 'across 2 CPUs',
};

/** The switching costs `offload bench switch` measured on this machine. */
export function ModesView() {
  const result = useLiveData(
    () => api<{ measuredAt: string | null; rows: SwitchRow[]; chart?: string }>('GET', '/v1/modes'),
    [],
    false,
  );
  return (
    <>
      <h1>Modes</h1>
      <p>
        What a hand-off costs on this machine: a coroutine only yields, a thread posts a message, a
        process crosses a pipe.
      </p>
      {result.error && (
        <p class="error" role="alert">
          {result.error}
        </p>
      )}
      {result.data && result.data.rows.length === 0 && (
        <p>
          No measurement yet. Run <code>npx offload bench switch</code> on this machine; the result
          appears here.
        </p>
      )}
      {result.data && result.data.rows.length > 0 && (
        <>
          <p>
            Measured{' '}
            {result.data.measuredAt ? new Date(result.data.measuredAt).toLocaleString() : ''} by{' '}
            <code>offload bench switch</code>.
          </p>
          {result.data.chart && (
            <img
              class="modes-chart"
              src={result.data.chart}
              alt="Chart of the switching costs below, log scale, grouped by mode"
            />
          )}
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Mode</th>
                  <th scope="col">Hand-off</th>
                  <th scope="col">Where</th>
                  <th scope="col" class="num">
                    Median
                  </th>
                  <th scope="col" class="num">
                    p25–p75
                  </th>
                  <th scope="col">Note</th>
                </tr>
              </thead>
              <tbody>
                {result.data.rows.map((row) => (
                  <tr data-row={row.id}>
                    <td>{row.group}</td>
                    <th scope="row">{row.name}</th>
                    <td>{PLACEMENT[row.placement] ?? row.placement}</td>
                    <td class="num">{formatNs(row.median)}</td>
                    <td class="num">
                      {row.p25 === null || row.p75 === null
                        ? '–'
                        : `${formatNs(row.p25)} – ${formatNs(row.p75)}`}
                    </td>
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

function formatNs(ns: number | null): string {
  if (ns === null) return '–';
  if (ns < 1000) return `${ns.toFixed(ns < 10 ? 1 : 0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1000).toFixed(1)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}
