import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

/**
 * Every relative link in the docs resolves: links in README.md, docs/*.md and the examples'
 * READMEs to files (and to headings, by GitHub's anchors), and every `docs/…` path that a doc
 * comment or message in src/ names.
 */
const root = path.resolve(import.meta.dirname, '..');

function markdownFiles(): string[] {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  const examples = fs
    .readdirSync(path.join(root, 'examples'))
    .map((name) => path.join('examples', name, 'README.md'))
    .filter((file) => fs.existsSync(path.join(root, file)));
  return ['README.md', ...docs, ...examples];
}

function sourceFiles(dir = 'src'): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.(ts|tsx|css|html)$/.test(entry.name) ? [file] : [];
  });
}

/** Markdown without its fenced code blocks and inline code spans, which hold no links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Inline links and images `[text](target "title")`, reference definitions `[x]: target`, and `href`/`src` attributes. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const targets: string[] = [];
  for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    targets.push(match[1]!);
  for (const match of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm))
    targets.push(match[1]!);
  for (const match of text.matchAll(/\b(?:href|src)="([^"]+)"/g)) targets.push(match[1]!);
  return targets;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = match[1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

const external = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

function brokenLinks(
  file: string,
  markdown = fs.readFileSync(path.join(root, file), 'utf8'),
): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (external.test(target)) continue;
    const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
    const linked = rawPath === '' ? file : path.join(path.dirname(file), decodeURI(rawPath));
    const absolute = path.join(root, linked);
    if (rawPath !== '' && !fs.existsSync(absolute)) {
      broken.push(`${target} (no file ${linked})`);
      continue;
    }
    if (anchor && linked.endsWith('.md')) {
      const headings = anchors(rawPath === '' ? markdown : fs.readFileSync(absolute, 'utf8'));
      if (!headings.has(decodeURIComponent(anchor)))
        broken.push(`${target} (no heading #${anchor} in ${linked})`);
    }
  }
  return broken;
}

describe('documentation links resolve', () => {
  for (const file of markdownFiles()) {
    it(`${file}: every relative link names a file (and heading) that exists`, () => {
      assert.deepEqual(brokenLinks(file), []);
    });
  }

  it('every docs/… path named in src/ exists', () => {
    const missing: string[] = [];
    for (const file of sourceFiles()) {
      const text = fs.readFileSync(path.join(root, file), 'utf8');
      for (const match of text.matchAll(/\bdocs\/[\w./-]*[\w/]/g)) {
        const named = match[0].replace(/\/$/, '');
        if (!fs.existsSync(path.join(root, named))) missing.push(`${file}: ${named}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('the checker finds what is broken (a link, a heading, a src path)', () => {
    assert.deepEqual(linkTargets('see [a](x.md#b) and `[no](code.md)`\n```\n[no](c.md)\n```'), [
      'x.md#b',
    ]);
    assert.ok(
      anchors('## Bulk actions: retry, cancel\n## Bulk actions: retry, cancel').has(
        'bulk-actions-retry-cancel-1',
      ),
    );
    const doc = [
      '# Title',
      '## A heading',
      '[ok](#a-heading) [ok](modes.md#mode-auto-let-offload-place-the-task) [ok](../README.md) [web](https://example.com/x.md)',
      '[gone](missing.md) [no heading](#nowhere) [no heading there](modes.md#nowhere)',
    ].join('\n');
    assert.deepEqual(brokenLinks('docs/sample.md', doc), [
      'missing.md (no file docs/missing.md)',
      '#nowhere (no heading #nowhere in docs/sample.md)',
      'modes.md#nowhere (no heading #nowhere in docs/modes.md)',
    ]);
  });
});
