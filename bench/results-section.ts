import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Replaces the `<!-- name:start -->`…`<!-- name:end -->` section of bench/RESULTS.md (appends it when missing). */
export function writeResultsSection(name: string, markdown: string): void {
  const file = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  const [start, end] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const current = fs.readFileSync(file, 'utf8');
  const block = `${start}\n${markdown}\n${end}`;
  fs.writeFileSync(file, current.includes(start) ? current.slice(0, current.indexOf(start)) + block + current.slice(current.indexOf(end) + end.length) : `${current.trimEnd()}\n\n${block}\n`);
}
