import os from 'node:os';
import { IntervalService, type Service, type ServiceDeps } from './service.ts';

/** What the heartbeat needs of its worker. */
export interface HeartbeatDeps extends Omit<ServiceDeps, 'fail'> {
  /** The worker's id, `host:pid:random`; host and pid are read from it. */
  workerId: string;
  /** How often to check in (ms); the worker uses HEARTBEAT_MS. */
  intervalMs: number;
  /** The modes of the worker's tasks. */
  modes: readonly string[];
  /** The queues the worker serves. */
  queues: readonly string[];
  /** Jobs the worker is running now. */
  running(): number;
  /** When the worker started (epoch ms). */
  startedAt(): number;
}

/**
 * Tells the store's worker registry (the dashboard's workers view) that a worker is alive and what
 * it runs, every `intervalMs`. A failed heartbeat is logged as a warning, never thrown.
 */
export class Heartbeat implements Service {
  readonly #deps: HeartbeatDeps;
  readonly #timer: IntervalService;
  readonly #host: string;
  readonly #pid: number;
  readonly #modes: string[];
  readonly #queues: string[];

  constructor(deps: HeartbeatDeps) {
    this.#deps = deps;
    this.#timer = new IntervalService(deps.intervalMs, () => this.beat());
    const [host = os.hostname(), pid = String(process.pid)] = deps.workerId.split(':');
    this.#host = host;
    this.#pid = Number(pid) || process.pid;
    this.#modes = [...new Set(deps.modes)].sort();
    this.#queues = [...deps.queues].sort();
  }

  start(): void {
    this.#timer.start();
  }

  stop(): void {
    this.#timer.stop();
  }

  /** Checks in once now. */
  async beat(): Promise<void> {
    const { store, workerId } = this.#deps;
    try {
      await store.workerHeartbeat({
        id: workerId,
        host: this.#host,
        pid: this.#pid,
        modes: this.#modes,
        queues: this.#queues,
        running: this.#deps.running(),
        startedAt: this.#deps.startedAt(),
        lastHeartbeat: store.clock.now(),
      });
    } catch (error) {
      this.#deps.log.warn(
        { err: error },
        'worker heartbeat failed; the dashboard may show this worker as silent',
      );
    }
  }
}
