import type { Placement } from './affinity.ts';
import { formatNs } from './stats.ts';
import type { SwitchResult, SwitchRow } from './switch-bench.ts';
import { harnessNote, machineLine } from './switch-report.ts';
import { GROUP_LABELS } from './switch-rows.ts';

const COLUMNS: Placement[] = ['any', 'one-cpu', 'two-cpus'];

/** Median with its p25–p75 spread, or why the cell is empty. */
function cell(row: SwitchRow | undefined): string {
  if (!row) return '';
  if (row.median === null) return `— (${row.reason ?? 'not measured'})`;
  return `${formatNs(row.median)} <sub>${formatNs(row.p25!)}–${formatNs(row.p75!)}</sub>`;
}

/** One line per cost, with its placements side by side. */
function costTable(result: SwitchResult): string[] {
  const byCost = new Map<string, SwitchRow[]>();
  for (const row of result.rows) {
    const key = `${GROUP_LABELS[row.group]} | ${row.name}`;
    byCost.set(key, [...(byCost.get(key) ?? []), row]);
  }
  const lines = [
    '| mode | cost | any CPU | both on 1 CPU | on 2 CPUs |',
    '|---|---|---:|---:|---:|',
  ];
  for (const [key, rows] of byCost)
    lines.push(
      `| ${key} | ${COLUMNS.map((p) => cell(rows.find((row) => row.placement === p))).join(' | ')} |`,
    );
  return lines;
}

/** How much of a Node hand-off is the kernel's switch: Node's round trip over perf's, per placement. */
function kernelShare(result: SwitchResult): string[] {
  const find = (id: string, placement: Placement) =>
    result.rows.find((row) => row.id === `${id}@${placement}`)?.median ?? null;
  const pairs: Array<[string, string, string]> = [
    ['thread postMessage (Worker) / perf -T', 'thread-post', 'perf-pipe-threads'],
    ['thread Atomics hand-off / perf -T', 'thread-atomics', 'perf-pipe-threads'],
    ["process IPC 'advanced' / perf", 'process-ipc-advanced', 'perf-pipe'],
    ['process raw pipe / perf', 'process-pipe', 'perf-pipe'],
  ];
  const ratio = (a: number | null, b: number | null) =>
    a !== null && b !== null ? `${(a / b).toFixed(1)}×` : '—';
  return [
    '| Node round trip ÷ kernel round trip | any CPU | 1 CPU | 2 CPUs |',
    '|---|---:|---:|---:|',
    ...pairs.map(
      ([label, node, kernel]) =>
        `| ${label} | ${COLUMNS.map((p) => ratio(find(node, p), find(kernel, p))).join(' | ')} |`,
    ),
  ];
}

/** The `<!-- switch:start -->` section of bench/RESULTS.md. */
export function switchMarkdown(result: SwitchResult): string {
  return [
    '<!-- switch:start -->',
    '## Switching costs (`npm run bench:switch`, `offload bench switch`)',
    '',
    `${result.startedAt.slice(0, 10)} · ${machineLine(result)}.`,
    'Medians per operation with the p25–p75 spread in small print, after a warm-up; each sample is a batch calibrated to about 30 ms',
    '(start-ups: one start per sample; perf: one run per sample). "1 CPU" / "2 CPUs": both sides pinned with `taskset`.',
    `${harnessNote(result)}.`,
    '',
    ...costTable(result),
    '',
    ...kernelShare(result),
    '',
    '![switching costs](../docs/modes-switch.svg)',
    '<!-- switch:end -->',
  ].join('\n');
}
