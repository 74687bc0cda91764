// Bundles the dashboard (src/dashboard) into dist/dashboard: one page, one app bundle, the stats
// Web Worker and one stylesheet. No CDN: everything the page needs ships in the package.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src/dashboard');
const out = path.join(root, 'dist/dashboard');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  if (fs.existsSync(path.join(out, 'index.html'))) process.exit(0);
  console.error('build-dashboard: esbuild is missing; run `npm install` (it is a devDependency)');
  process.exit(1);
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: {
    app: path.join(source, 'main.tsx'),
    'stats-worker': path.join(source, 'stats-worker.ts'),
  },
  outdir: out,
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: true,
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  logLevel: 'warning',
});
await esbuild.build({
  entryPoints: { app: path.join(source, 'styles.css') },
  outdir: out,
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
fs.copyFileSync(path.join(source, 'index.html'), path.join(out, 'index.html'));
const sizes = fs
  .readdirSync(out)
  .filter((f) => !f.endsWith('.map'))
  .map((f) => `${f} ${(fs.statSync(path.join(out, f)).size / 1024).toFixed(1)} KiB`);
console.log(`dashboard: ${sizes.join(', ')}`);
