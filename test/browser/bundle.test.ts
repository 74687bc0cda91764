/**
 * What ships to browsers: offload/browser, offload/browser/worker and offload/task import no Node.js
 * built-ins (not even for types), and bundle for the browser as ES modules.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleBytes } from '../../tools/browser-build.ts';
import { launchChromium } from '../../tools/chromium.ts';

const source = (file: string) => fileURLToPath(new URL(`../../src/${file}`, import.meta.url));
const IMPORT = /(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** Every module reachable from `entry` by its imports (type-only ones too), with the packages it names. */
function importGraph(entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const packages: string[] = [];
    graph.set(file, packages);
    const code = fs
      .readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const match of code.matchAll(IMPORT)) {
      const specifier = (match[1] ?? match[2])!;
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier));
      else packages.push(specifier);
    }
  };
  visit(entry);
  return graph;
}

for (const [entry, allowed] of [
  ['browser/index.ts', []],
  ['browser/worker.ts', []],
  ['task/index.ts', ['zod']],
  ['pool/shared/child-runtime.ts', []],
] as const) {
  it(`${entry} reaches no Node.js built-in and no package but ${allowed.join(', ') || 'none'}`, async () => {
    const graph = importGraph(source(entry));
    for (const [file, packages] of graph) {
      const foreign = packages.filter((name) => !(allowed as readonly string[]).includes(name));
      assert.deepEqual(
        foreign,
        [],
        `${path.relative(source(''), file)} imports ${foreign.join(', ')}`,
      );
    }
    assert.ok(graph.size > 1);
    const bytes = await bundleBytes({ file: source(entry) });
    assert.ok(bytes.length > 0);
  });
}

it('a missing Chromium fails loudly, saying how to install it', async () => {
  await assert.rejects(launchChromium('/nonexistent/chromium'), /apt-get install -y chromium/);
});
