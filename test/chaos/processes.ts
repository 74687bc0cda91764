import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

/** A fixture process and what it printed on its ready line. */
export interface Fixture {
  child: ChildProcess;
  line: string;
  exited: Promise<number | string>;
}

/** Starts test/fixtures/<name> and resolves with its first stdout line that matches `ready`. */
export function startFixture(
  name: string,
  env: Record<string, string>,
  ready: RegExp = /^ready$/m,
): Promise<Fixture> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(fixtures, name)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal!)),
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = ready.exec(stdout);
      if (match) resolve({ child, line: match[0], exited });
    });
    void exited.then((how) =>
      reject(new Error(`${name} exited before it was ready (${how}): ${stderr}`)),
    );
  });
}

/** Resident set size of a live process, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Sends SIGTERM and waits; SIGKILL after `graceMs` so a suite never hangs on a stuck child. */
export async function stopFixture(fixture: Fixture, graceMs = 15_000): Promise<number | string> {
  if (fixture.child.exitCode !== null || fixture.child.signalCode !== null) return fixture.exited;
  fixture.child.kill('SIGTERM');
  const timer = setTimeout(() => fixture.child.kill('SIGKILL'), graceMs);
  const how = await fixture.exited;
  clearTimeout(timer);
  return how;
}
