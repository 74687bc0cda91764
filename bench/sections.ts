/**
 * bench/RESULTS.md and bench/results.json: each benchmark owns one section of RESULTS.md between
 * `<!-- name:start -->` and `<!-- name:end -->`, and one entry of results.json.
 */
import fs from 'node:fs';
import os from 'node:os';

const RESULTS_MD = new URL('./RESULTS.md', import.meta.url);
const RESULTS_JSON = new URL('./results.json', import.meta.url);

/** Replaces (or appends) the section between `<!-- name:start -->` and `<!-- name:end -->`. */
export function writeSection(name: string, section: string): void {
  const current = fs.existsSync(RESULTS_MD)
    ? fs.readFileSync(RESULTS_MD, 'utf8')
    : '# Benchmark results\n\nEach benchmark replaces only its own section.\n';
  const pattern = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  fs.writeFileSync(
    RESULTS_MD,
    pattern.test(current)
      ? current.replace(pattern, () => section)
      : `${current.trimEnd()}\n\n${section}\n`,
  );
}

/** The text of one section, or undefined. */
export function readSection(name: string): string | undefined {
  if (!fs.existsSync(RESULTS_MD)) return undefined;
  const match = new RegExp(`<!-- ${name}:start -->([\\s\\S]*)<!-- ${name}:end -->`).exec(
    fs.readFileSync(RESULTS_MD, 'utf8'),
  );
  return match?.[1];
}

export interface BenchEntry {
  /** Each markdown table of the section, as rows keyed by the column headers. */
  tables: Array<Array<Record<string, string>>>;
  /** Structured results the benchmark recorded itself, if it does. */
  data?: unknown;
}

export interface ResultsJson {
  generatedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; release: string };
  benchmarks: Record<string, BenchEntry>;
}

function readJson(): ResultsJson {
  try {
    return JSON.parse(fs.readFileSync(RESULTS_JSON, 'utf8')) as ResultsJson;
  } catch {
    return { generatedAt: '', machine: machine(), benchmarks: {} };
  }
}

/** Sets one benchmark's entry of results.json: its section's tables, and `data` when given. */
export function writeResultsJson(name: string, data?: unknown): void {
  const json = readJson();
  const previous = json.benchmarks[name];
  const section = readSection(name);
  json.benchmarks[name] = {
    tables: section ? markdownTables(section) : [],
    ...(data === undefined
      ? previous?.data === undefined
        ? {}
        : { data: previous.data }
      : { data }),
  };
  json.generatedAt = new Date().toISOString();
  json.machine = machine();
  fs.writeFileSync(RESULTS_JSON, `${JSON.stringify(json, null, 2)}\n`);
}

/** The installed version of a package (its package.json under node_modules). */
export function packageVersion(name: string): string {
  const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Markdown pipe tables → arrays of row objects keyed by header. */
export function markdownTables(markdown: string): Array<Array<Record<string, string>>> {
  const tables: Array<Array<Record<string, string>>> = [];
  const lines = markdown.split('\n');
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  for (let i = 0; i < lines.length - 1; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1]!)) continue;
    const headers = cells(lines[i]!);
    const rows: Array<Record<string, string>> = [];
    for (i += 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
      const values = cells(lines[i]!);
      rows.push(
        Object.fromEntries(
          headers.map((header, n) => [header || `column ${n + 1}`, values[n] ?? '']),
        ),
      );
    }
    tables.push(rows);
  }
  return tables;
}

/** The machine the benchmarks run on, as results.json records it. */
export function machine(): ResultsJson['machine'] {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: os.platform(),
    release: os.release(),
  };
}
