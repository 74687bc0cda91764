import { PLACEMENT_LABELS } from './affinity.ts';
import { formatNs } from './stats.ts';
import { HARNESS_LIMIT, type SwitchResult } from './switch-bench.ts';
import { GROUP_LABELS } from './switch-rows.ts';

export const SWITCH_HEADERS = ['MODE', 'COST', 'CPUS', 'MEDIAN', 'P25–P75', 'NOTE'];

/** The rows of the terminal table: one per cost, an empty row saying why. */
export function switchTableRows(result: SwitchResult): string[][] {
  return result.rows.map((row) => [
    GROUP_LABELS[row.group],
    row.name,
    PLACEMENT_LABELS[row.placement],
    row.median === null ? '-' : formatNs(row.median),
    row.p25 === null || row.p75 === null ? '-' : `${formatNs(row.p25)} – ${formatNs(row.p75)}`,
    row.reason ?? `${row.samples} × ${row.iterations.toLocaleString('en-US')}`,
  ]);
}

/** One line on the harness's own overhead against the smallest cost reported. */
export function harnessNote(result: SwitchResult): string {
  const { overheadNs, smallestNs, smallestRow, fraction, ok } = result.harness;
  if (overheadNs === null || smallestNs === null || fraction === null)
    return 'harness overhead: not measured';
  const share = `${(fraction * 100).toFixed(2)} %`;
  const facts = `harness overhead ${formatNs(overheadNs)} per operation = ${share} of the smallest cost (${smallestRow}, ${formatNs(smallestNs)})`;
  return ok
    ? `${facts}: under ${HARNESS_LIMIT * 100} %, so it does not distort the numbers`
    : `WARNING: ${facts}, over ${HARNESS_LIMIT * 100} %: the smallest costs are overstated`;
}

/** The header line: machine, Node, load, and whether the run was cut short. */
export function machineLine(result: SwitchResult): string {
  const m = result.machine;
  const state = result.complete ? '' : ' · INTERRUPTED: partial results';
  return `${m.cpus} × ${m.cpuModel} · Node ${m.node} · ${m.platform} ${m.release} · load ${m.loadAverage.join(' ')} · ${(result.durationMs / 1000).toFixed(1)} s${result.quick ? ' (--quick)' : ''}${state}`;
}
