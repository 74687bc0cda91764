import fs from 'node:fs';

/** Replaces the `<!-- name:start -->…<!-- name:end -->` section of bench/RESULTS.md (or appends it). */
export function writeResultsSection(name: string, body: string): void {
  const section = `<!-- ${name}:start -->\n${body.trim()}\n<!-- ${name}:end -->`;
  const file = new URL('./RESULTS.md', import.meta.url);
  const current = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8')
    : '# Benchmark results\n\nEach benchmark replaces only its own section.\n';
  const pattern = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  const next = pattern.test(current)
    ? current.replace(pattern, () => section)
    : `${current.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, next);
  console.log(`\n${section}`);
}
