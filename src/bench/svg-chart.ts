import { PLACEMENT_LABELS } from './affinity.ts';
import { formatNs } from './stats.ts';
import type { SwitchResult, SwitchRow } from './switch-bench.ts';
import { GROUP_LABELS, type CostGroup } from './switch-rows.ts';

const COLORS: Record<CostGroup, string> = {
  harness: '#9aa0a6',
  coroutine: '#1e8e3e',
  thread: '#1a73e8',
  process: '#d93025',
  payload: '#f29900',
  kernel: '#5f6368',
};

const LABEL_W = 430;
const PLOT_W = 420;
const VALUE_W = 90;
const BAR_H = 14;
const GAP = 4;
const GROUP_GAP = 22;
const TOP = 56;

/**
 * A horizontal bar chart of the measured costs on a log scale, one bar per row, grouped by mode.
 * Hand-written SVG: text escaped, no scripts, no external references.
 */
export function renderSwitchSvg(result: SwitchResult): string {
  const rows = result.rows.filter((row) => row.median !== null && row.median > 0);
  const values = rows.map((row) => row.median!);
  const lo = Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (ns: number) => LABEL_W + ((Math.log10(ns) - lo) / (hi - lo)) * PLOT_W;
  const parts: string[] = [];
  let y = TOP;
  let group: CostGroup | undefined;
  for (const row of rows) {
    if (row.group !== group) {
      group = row.group;
      y += GROUP_GAP;
      parts.push(
        `<text x="8" y="${y - 6}" class="group" fill="${COLORS[group]}">${escapeXml(GROUP_LABELS[group])}</text>`,
      );
    }
    parts.push(bar(row, y, x(row.median!) - LABEL_W));
    y += BAR_H + GAP;
  }
  const height = y + 34;
  const width = LABEL_W + PLOT_W + VALUE_W;
  const axis = axisLines(lo, hi, x, TOP, y);
  const title = `What a switch costs on this machine (log scale, median per operation)`;
  const subtitle = `${result.machine.cpus} × ${result.machine.cpuModel} · Node ${result.machine.node} · ${result.startedAt.slice(0, 10)}${result.complete ? '' : ' · partial'}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<style>.label{fill:#202124}.value{fill:#202124}.group{font-weight:bold;font-size:13px}.axis{fill:#5f6368;font-size:11px}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="8" y="38" class="axis">${escapeXml(subtitle)}</text>`,
    ...axis,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}

function bar(row: SwitchRow, y: number, width: number): string {
  const label = `${row.name}${row.placement === 'any' ? '' : ` · ${PLACEMENT_LABELS[row.placement]}`}`;
  return (
    `<g class="bar" data-id="${escapeXml(row.id)}">` +
    `<text x="${LABEL_W - 8}" y="${y + BAR_H - 3}" text-anchor="end" class="label">${escapeXml(label)}</text>` +
    `<rect x="${LABEL_W}" y="${y}" width="${Math.max(1, width).toFixed(1)}" height="${BAR_H}" fill="${COLORS[row.group]}"/>` +
    `<text x="${(LABEL_W + Math.max(1, width) + 4).toFixed(1)}" y="${y + BAR_H - 3}" class="value">${escapeXml(formatNs(row.median!))}</text>` +
    `</g>`
  );
}

function axisLines(
  lo: number,
  hi: number,
  x: (ns: number) => number,
  top: number,
  bottom: number,
): string[] {
  const lines: string[] = [];
  for (let power = lo; power <= hi; power++) {
    const at = x(10 ** power).toFixed(1);
    lines.push(`<line x1="${at}" y1="${top}" x2="${at}" y2="${bottom}" stroke="#e0e0e0"/>`);
    lines.push(
      `<text x="${at}" y="${bottom + 16}" text-anchor="middle" class="axis">${decade(power)}</text>`,
    );
  }
  return lines;
}

/** 10^power ns as "1 ns", "10 µs", "100 ms". */
function decade(power: number): string {
  const units = ['ns', 'µs', 'ms', 's'];
  const unit = Math.min(units.length - 1, Math.max(0, Math.floor(power / 3)));
  return `${10 ** (power - unit * 3)} ${units[unit]}`;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}
