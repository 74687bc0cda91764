/**
 * `npm run example:slow-report`: serves the slow-report app on http://127.0.0.1:3000 with a fresh
 * queue file. Flags: --port 3000, --rounds 600000 (CPU per report), --db <file>.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startApp } from './app.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '600000' },
    db: { type: 'string' },
  },
});
const database =
  values.db ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'offload-slow-report-')), 'jobs.db');
const app = await startApp({ database, port: Number(values.port), rounds: Number(values.rounds) });
console.log(`slow-report on ${app.url} (queue in ${database})
  inline:    curl ${app.url}/report/inline
  offloaded: curl -i -X POST ${app.url}/report   then   curl ${app.url}/report/<id>
  load:      npm run example:slow-report:load`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
