/**
 * `npm run example:browser`: bundles the demo page and its worker with esbuild, then serves them on
 * http://127.0.0.1:8080 (PORT overrides), cross-origin isolated.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser } from '../../tools/browser-build.ts';
import { ISOLATION_HEADERS, serveStatic, type StaticServer } from '../../tools/static-server.ts';

const page = (file: string) => fileURLToPath(new URL(`./page/${file}`, import.meta.url));

/** Builds the demo into a fresh folder and serves it; `close()` stops the server and removes the folder. */
export async function startDemo(port: number): Promise<StaticServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offload-browser-demo-'));
  await bundleForBrowser({ main: page('main.ts'), worker: page('worker.ts') }, dir);
  fs.copyFileSync(page('index.html'), path.join(dir, 'index.html'));
  const server = await serveStatic(dir, { port, headers: () => ISOLATION_HEADERS });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startDemo(Number(process.env.PORT ?? 8080));
  console.log(`offload/browser demo: ${server.url}/  (Ctrl-C to stop)`);
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
}
