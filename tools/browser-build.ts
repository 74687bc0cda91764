/**
 * Bundles browser entry points with esbuild. offload's own subpaths resolve to its TypeScript
 * source, so the examples, the browser tests and the size benchmark need no `npm run build`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What a page or worker may import from offload, and the source each resolves to. */
const BROWSER_ENTRIES: Record<string, string> = {
  'offload/browser': 'src/browser/index.ts',
  'offload/browser/worker': 'src/browser/worker.ts',
  'offload/task': 'src/task/index.ts',
};

const offloadSource: esbuild.Plugin = {
  name: 'offload-source',
  setup(build) {
    build.onResolve({ filter: /^offload(\/|$)/ }, (args) => {
      const target = BROWSER_ENTRIES[args.path];
      if (target) return { path: path.join(ROOT, target) };
      return {
        errors: [
          {
            text: `${args.path} has no browser build; import ${Object.keys(BROWSER_ENTRIES).join(', ')}`,
          },
        ],
      };
    });
  },
};

/** Bundles `entryPoints` (output name → source file) as browser ES modules into `outdir`. */
export async function bundleForBrowser(
  entryPoints: Record<string, string>,
  outdir: string,
  minify = false,
): Promise<esbuild.Metafile> {
  const result = await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: minify ? false : 'inline',
    metafile: true,
    logLevel: 'silent',
    plugins: [offloadSource],
  });
  return result.metafile;
}

/**
 * Minified bundle of one module's code (or of `source`, when given) as a browser ES module, in bytes.
 * `external` names imports left out (Node built-ins a library only requires when it runs in Node).
 */
export async function bundleBytes(
  entry: { file: string } | { source: string; resolveDir: string },
  external: string[] = [],
): Promise<Uint8Array> {
  const input =
    'file' in entry
      ? { entryPoints: [entry.file] }
      : { stdin: { contents: entry.source, resolveDir: entry.resolveDir, loader: 'ts' as const } };
  const result = await esbuild.build({
    ...input,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    external,
    logLevel: 'silent',
    plugins: [offloadSource],
  });
  return result.outputFiles[0]!.contents;
}
