import type { Job } from '../core/job.ts';

/** Writes a value as JSON (for --json) or lines of text. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** A plain aligned table; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** "3 s ago", "in 2 min": times relative to now, for tables. */
export function relativeTime(epochMs: number | null, now = Date.now()): string {
  if (epochMs === null) return '-';
  const delta = epochMs - now;
  const abs = Math.abs(delta);
  const text =
    abs < 1000
      ? `${abs} ms`
      : abs < 60_000
        ? `${Math.round(abs / 1000)} s`
        : abs < 3_600_000
          ? `${Math.round(abs / 60_000)} min`
          : `${Math.round(abs / 3_600_000)} h`;
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

export function jobRows(jobs: Job[]): string[][] {
  return jobs.map((job) => [
    job.id,
    job.queue,
    job.task,
    job.state,
    `${job.attempts}/${job.maxAttempts}`,
    relativeTime(job.createdAt),
    job.tags.length ? truncate(job.tags.join(','), 40) : '-',
    summary(job),
  ]);
}

export const JOB_HEADERS = [
  'ID',
  'QUEUE',
  'TASK',
  'STATE',
  'TRIES',
  'CREATED',
  'TAGS',
  'RESULT / ERROR',
];

function summary(job: Job): string {
  if (job.error && job.state !== 'succeeded') return truncate(job.error.message, 60);
  if (job.result !== null) return truncate(JSON.stringify(job.result), 60);
  if (job.state === 'scheduled') return `runs ${relativeTime(job.runAt)}`;
  return '';
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A one-line progress bar on stderr, redrawn in place when stderr is a terminal. */
export class ProgressBar {
  readonly #total: number;
  readonly #label: string;
  readonly #tty = process.stderr.isTTY === true;
  #lastDraw = 0;

  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = total;
  }

  /** Redraws with `done` of the total finished; `detail` (what runs now) follows the count. */
  update(done: number, detail = ''): void {
    const now = Date.now();
    if (done < this.#total && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = 30;
    const filled = Math.round((done / Math.max(1, this.#total)) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const text = `${this.#label} ${bar} ${done}/${this.#total}${detail ? ` ${truncate(detail, 50)}` : ''}`;
    if (this.#tty) process.stderr.write(`\r\x1b[K${text}${done >= this.#total ? '\n' : ''}`);
    else if (done >= this.#total) process.stderr.write(`${text}\n`);
  }
}
