import { spawn, type ChildProcess } from 'node:child_process';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

/** The other side of a round trip: answers each ping with a pong. */
export interface Peer {
  /** Kernel thread id (thread peers) or pid (process peers), for pinning; 0 when unknown. */
  readonly id: number;
  readonly isProcess: boolean;
  /** `n` ping-pongs one after another. */
  roundTrips(n: number): Promise<void> | void;
  close(): Promise<void>;
}

export type ThreadPeerKind = 'worker' | 'channel' | 'atomics';
export type ProcessPeerKind = 'json' | 'advanced' | 'pipe';

/** Marks bench children in their environment, so a test can tell none is left behind. */
export const PEER_ENV = 'OFFLOAD_BENCH_PEER_OWNER';

const HANG_MS = 10_000;

// Peers are small scripts evaluated in place, so they run the same from source and from dist.
const THREAD_PEER = `
const { parentPort, workerData } = require('node:worker_threads');
let tid = 0;
try { tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
if (workerData.kind === 'atomics') {
  const cell = new Int32Array(workerData.sab);
  parentPort.postMessage({ tid });
  let seen = 0;
  for (;;) {
    Atomics.wait(cell, 0, seen, 1000);
    const value = Atomics.load(cell, 0);
    if (value === 3) break;
    if (value === 1) { Atomics.store(cell, 0, 2); Atomics.notify(cell, 0); seen = 2; }
  }
} else {
  const port = workerData.kind === 'channel' ? workerData.port : parentPort;
  port.on('message', (message) => port.postMessage(message));
  parentPort.postMessage({ tid });
}`;

const PROCESS_PEER = `
if (process.env.OFFLOAD_BENCH_PEER === 'pipe') {
  process.stdin.on('data', (chunk) => process.stdout.write(chunk));
  process.stdout.write('r');
} else {
  process.on('message', (message) => process.send(message));
  process.send('ready');
}`;

/** A ping-pong over an event emitter-like channel: send, wait for the answer, repeat. */
function messagePingPong(
  send: () => void,
  subscribe: (onReply: () => void) => void,
  died: Promise<never>,
): (n: number) => Promise<void> {
  let reply: () => void = () => {};
  subscribe(() => reply());
  return (n) =>
    Promise.race([
      died,
      new Promise<void>((resolve) => {
        let left = n;
        reply = () => (--left === 0 ? resolve() : send());
        send();
      }),
    ]);
}

/** Starts a worker_threads peer and resolves once it is ready. */
export async function startThreadPeer(kind: ThreadPeerKind): Promise<Peer> {
  const sab = new SharedArrayBuffer(4);
  const channel = kind === 'channel' ? new MessageChannel() : undefined;
  const workerData = { kind, sab, port: channel?.port2 };
  const worker = new Worker(THREAD_PEER, {
    eval: true,
    workerData,
    transferList: channel ? [channel.port2] : [],
  });
  const died = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`bench thread exited (code ${code})`)));
  });
  died.catch(() => {});
  const { tid } = await Promise.race([
    died,
    new Promise<{ tid: number }>((resolve) => worker.once('message', resolve)),
  ]);
  const close = async () => {
    Atomics.store(new Int32Array(sab), 0, 3);
    Atomics.notify(new Int32Array(sab), 0);
    channel?.port1.close();
    await worker.terminate();
  };
  if (kind === 'atomics')
    return { id: tid, isProcess: false, roundTrips: atomicsRoundTrips(new Int32Array(sab)), close };
  const port: MessagePort | Worker = channel ? channel.port1 : worker;
  const roundTrips = messagePingPong(
    () => port.postMessage(1),
    (onReply) => port.on('message', onReply),
    died,
  );
  return { id: tid, isProcess: false, roundTrips, close };
}

/** Hand-offs through one shared cell: 1 = ping, 2 = pong, 3 = stop. Blocks this thread while it waits. */
function atomicsRoundTrips(cell: Int32Array): (n: number) => void {
  return (n) => {
    for (let i = 0; i < n; i++) {
      Atomics.store(cell, 0, 1);
      Atomics.notify(cell, 0);
      if (Atomics.wait(cell, 0, 1, HANG_MS) === 'timed-out')
        throw new Error('bench thread did not answer through Atomics');
    }
  };
}

/** Starts a child process peer (IPC with json or advanced serialisation, or a raw pipe) and resolves once it is ready. */
export async function startProcessPeer(kind: ProcessPeerKind): Promise<Peer> {
  const child = spawn(process.execPath, ['-e', PROCESS_PEER], {
    stdio: kind === 'pipe' ? ['pipe', 'pipe', 'inherit'] : ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: kind === 'advanced' ? 'advanced' : 'json',
    env: { ...process.env, OFFLOAD_BENCH_PEER: kind, [PEER_ENV]: String(process.pid) },
  });
  const died = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`bench process exited (${signal ?? `code ${code}`})`)),
    );
  });
  died.catch(() => {});
  const ready = new Promise<void>((resolve) =>
    kind === 'pipe'
      ? child.stdout!.once('data', () => resolve())
      : child.once('message', () => resolve()),
  );
  await Promise.race([died, ready]);
  const roundTrips =
    kind === 'pipe'
      ? messagePingPong(
          () => child.stdin!.write('p'),
          (onReply) => child.stdout!.on('data', onReply),
          died,
        )
      : messagePingPong(
          () => child.send(1),
          (onReply) => child.on('message', onReply),
          died,
        );
  return { id: child.pid ?? 0, isProcess: true, roundTrips, close: () => endChild(child) };
}

/** Ends a child and resolves once it has exited. */
export function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
