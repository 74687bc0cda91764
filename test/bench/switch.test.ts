import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PEER_ENV } from '../../src/bench/peers.ts';
import type { SwitchResult } from '../../src/bench/switch-bench.ts';
import { makeTempDir, waitFor } from '../helpers/temp.ts';

const run = promisify(execFile);
const temp = makeTempDir('bench-switch');
after(() => temp.cleanup());
const main = path.resolve('dist/cli/main.js');

/** Pids of processes this machine runs that a bench run with pid `owner` started. */
function peersOf(owner: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (
        fs
          .readFileSync(`/proc/${entry}/environ`, 'utf8')
          .split('\0')
          .includes(`${PEER_ENV}=${owner}`)
      )
        found.push(Number(entry));
    } catch {
      // gone already, or not ours to read
    }
  }
  return found;
}

describe('offload bench switch (built CLI)', () => {
  it('--quick --json gives every row a positive median or a reason, writes the SVG and keeps the result', async () => {
    const db = path.join(temp.dir, 'data', 'offload.db');
    const svg = path.join(temp.dir, 'chart', 'switch.svg');
    const { stdout } = await run(
      process.execPath,
      [main, '--db', db, 'bench', 'switch', '--quick', '--json', '--svg', svg],
      { timeout: 120_000 },
    );
    const result = JSON.parse(stdout) as SwitchResult;
    assert.equal(result.kind, 'offload-bench-switch');
    assert.equal(result.complete, true);
    assert.ok(result.rows.length >= 30, `expected every cost, got ${result.rows.length} rows`);
    for (const row of result.rows) {
      if (row.median === null)
        assert.ok(row.reason && row.reason.length > 5, `row ${row.id} is empty without a reason`);
      else
        assert.ok(
          row.median > 0 && row.p25! > 0 && row.p75! >= row.p25!,
          `row ${row.id} has median ${row.median}`,
        );
    }
    const groups = new Set(result.rows.map((row) => row.group));
    for (const group of ['harness', 'coroutine', 'thread', 'process', 'payload', 'kernel'])
      assert.ok(groups.has(group as never), `no ${group} rows`);
    for (const placement of ['any', 'one-cpu', 'two-cpus'])
      assert.ok(
        result.rows.some((row) => row.placement === placement),
        `no ${placement} rows`,
      );
    assert.equal(typeof result.harness.ok, 'boolean');

    const text = fs.readFileSync(svg, 'utf8');
    assert.equal(XMLValidator.validate(text), true);
    const doc = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'g' }).parse(
      text,
    ) as { svg: { g: Array<{ '@_data-id': string; rect: unknown }> } };
    const bars = doc.svg.g.filter((g) => g.rect !== undefined).map((g) => g['@_data-id']);
    assert.deepEqual(
      bars,
      result.rows.filter((row) => row.median !== null).map((row) => row.id),
    );

    const saved = JSON.parse(
      fs.readFileSync(path.join(temp.dir, 'data', 'bench-switch.json'), 'utf8'),
    ) as SwitchResult;
    assert.equal(saved.rows.length, result.rows.length);
  });

  it('prints a table and the harness check as text', async () => {
    const { stdout } = await run(
      process.execPath,
      [main, '--db', path.join(temp.dir, 'text.db'), 'bench', 'switch', '--quick', '--no-save'],
      { timeout: 120_000 },
    );
    assert.match(stdout, /MODE\s+COST\s+CPUS\s+MEDIAN/);
    assert.match(stdout, /await a resolved promise/);
    assert.match(stdout, /harness overhead .* of the smallest cost/);
    assert.equal(fs.existsSync(path.join(temp.dir, 'bench-switch.json')), false);
  });

  it('Ctrl-C prints the partial results, exits 130 and leaves no child process behind', async () => {
    const child = spawn(
      process.execPath,
      [main, '--db', path.join(temp.dir, 'cut.db'), 'bench', 'switch', '--quick', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    await waitFor(() => peersOf(child.pid!).length > 0, {
      timeoutMs: 60_000,
      intervalMs: 2,
      what: 'a bench child process',
    });
    child.kill('SIGINT');
    assert.equal(await exit, 130);
    const result = JSON.parse(stdout) as SwitchResult;
    assert.equal(result.complete, false);
    assert.ok(
      result.rows.some((row) => row.median !== null),
      'rows measured before the interrupt are kept',
    );
    assert.ok(result.rows.some((row) => row.reason === 'interrupted'));
    assert.deepEqual(peersOf(child.pid!), []);
  });
});
