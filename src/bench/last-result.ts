import fs from 'node:fs';
import path from 'node:path';
import type { SwitchResult } from './switch-bench.ts';

/** The file the last `offload bench switch` result is kept in, in offload's data folder (where the SQLite file lives). */
export function lastResultPath(dataDir: string): string {
  return path.join(dataDir, 'bench-switch.json');
}

/** Writes the result atomically (write, then rename), so a reader never sees half a file. */
export function saveLastResult(dataDir: string, result: SwitchResult): string {
  const file = lastResultPath(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(result, null, 2)}\n`);
  fs.renameSync(temporary, file);
  return file;
}

/** The last saved result, or undefined when there is none (for the dashboard). */
export function loadLastResult(dataDir: string): SwitchResult | undefined {
  try {
    return JSON.parse(fs.readFileSync(lastResultPath(dataDir), 'utf8')) as SwitchResult;
  } catch {
    return undefined;
  }
}
