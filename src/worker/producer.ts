import type { ClaimedJob } from '../core/job.ts';
import type { JobOutcome, LeaseRef, Store } from '../store/contract.ts';
import type { Task } from '../task/task.ts';
import { ClaimAhead } from './claim-ahead.ts';
import { leaseOf } from './job-run.ts';
import { IntervalService, type Service } from './services/service.ts';

/** What the producer needs of its worker. */
export interface ProducerDeps {
  store: Store;
  workerId: string;
  leaseMs: number;
  /** Longest sleep between looks for work when no event arrives (ms). */
  pollInterval: number;
  /** Jobs of each served queue that may run at once. */
  capacity: ReadonlyMap<string, number>;
  /** Jobs of `queue` running now. */
  activeIn(queue: string): number;
  /** Tasks that may be claimed now: those whose mode has room. */
  claimableTasks(): Task[];
  /** Jobs of `task` its current mode could start now (Infinity inline). */
  roomFor(task: Task): number;
  /** Starts a claimed job; the worker runs it and records its outcome. */
  startJob(job: ClaimedJob): void;
  record(outcome: JobOutcome): Promise<boolean>;
  /** Leases of ended runs of `queues` whose outcomes are on their way (their slots come back with a claim). */
  endedLeases(queues: ReadonlySet<string>): LeaseRef[];
  /** Logs a failure and emits it as the worker's `error`. */
  fail(error: unknown, message: string): void;
  /**
   * Called as a claim is sent; what it returns is called with the number of jobs the claim got
   * (0: nothing was due that this worker could take).
   */
  observeClaim?(): ((jobs: number) => void) | undefined;
}

/** Job ends that free a slot of a limited queue (a retry frees it too, until its run-at). */
const SLOT_FREEING_EVENTS = [
  'job:succeeded',
  'job:failed',
  'job:cancelled',
  'job:retrying',
] as const;

/** One queue's part of a claim: lease `limit` jobs, of which the first `start` run at once. */
interface QueueClaim {
  name: string;
  limit: number;
  start: number;
}

/**
 * The claim loop of a worker: wakes on store events, its poll and the next scheduled run-at,
 * claims as many jobs as there is free capacity for (plus those to hold ahead, see
 * {@link ClaimAhead}) and hands each to the worker as a slot frees. On stop it claims no more,
 * and `drain()` gives the jobs held ahead back to their queues.
 */
export class Producer implements Service {
  readonly #deps: ProducerDeps;
  readonly #ahead = new ClaimAhead();
  readonly #poll: IntervalService;
  readonly #unsubscribe: Array<() => void> = [];
  #wakeTimer: NodeJS.Timeout | undefined;
  #wakeQueued = false;
  #filling = false;
  #fillAgain = false;
  #claimDone: Promise<void> = Promise.resolve();
  /**
   * The earliest run-at of a scheduled job, as last read, while nothing happened that could change
   * it (any job event, the poll, a timer or a recovery forgets it). An idle worker asks after every
   * claim that comes back short; after its own job ends, the answer from a moment ago still holds.
   */
  #nextRunAt: { at: number | null; news: number } | undefined;
  /**
   * Served queues with flow control, as last read (at start and on every poll). A job of one
   * ending anywhere may free a slot this worker can take, so their job ends wake it.
   */
  #limited = new Set<string>();
  /** Counts wake-ups with news; a run-at read before the latest one is stale. */
  #news = 0;
  #started = false;
  #stopped = false;
  #paused = false;

  constructor(deps: ProducerDeps) {
    this.#deps = deps;
    this.#poll = new IntervalService(deps.pollInterval, () => this.#tick(), { keepAlive: true });
  }

  /** Jobs claimed ahead and held until a slot frees (state `claimed`). */
  get claimed(): number {
    return this.#ahead.size;
  }

  /** Every job claimed ahead, e.g. to renew their leases. */
  waiting(): ClaimedJob[] {
    return this.#ahead.all();
  }

  /** Drops a job claimed ahead (cancelled, or its lease is gone); true if it was waiting. */
  dropWaiting(id: string): boolean {
    return this.#ahead.remove(id);
  }

  /** Listens for work (store events) and starts the poll; the first look is `fill()`. */
  start(): void {
    if (this.#stopped) return;
    const { store, capacity } = this.#deps;
    this.#started = true;
    this.#unsubscribe.push(
      store.on('job:enqueued', (event) => capacity.has(event.queue) && this.wake(true)),
      store.on('job:updated', (event) => capacity.has(event.queue) && this.wake(true)),
      store.on('job:retrying', (event) => capacity.has(event.queue) && this.wake(true)),
      store.on('store:changed', () => this.wake(true)),
      ...SLOT_FREEING_EVENTS.map((name) =>
        store.on(name, (event) => this.#limited.has(event.queue) && this.wake(true)),
      ),
    );
    this.#poll.start();
  }

  /** Reads which served queues have flow control; a failed read keeps the last answer. */
  async learnLimits(): Promise<void> {
    try {
      const limited = new Set<string>();
      for (const state of await this.#deps.store.limitsList())
        if (this.#deps.capacity.has(state.queue)) limited.add(state.queue);
      this.#limited = limited;
    } catch (error) {
      this.#deps.fail(error, 'reading the flow control of the served queues failed');
    }
  }

  #tick(): Promise<void> {
    this.wake(true);
    return this.learnLimits();
  }

  /** Claims no more: stops the poll, the scheduled wake-up and the listeners. Safe twice. */
  stop(): void {
    this.#stopped = true;
    this.#poll.stop();
    clearTimeout(this.#wakeTimer);
    this.#unsubscribe.splice(0).forEach((off) => off());
  }

  /** Claims no more until {@link resume}; jobs claimed already still start. Resolves once the claim in flight has settled. */
  pause(): Promise<void> {
    this.#paused = true;
    clearTimeout(this.#wakeTimer);
    return this.#claimDone;
  }

  /** Claims again after {@link pause}, looking for work at once once started. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#started) this.wake(true);
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** After `stop()`: waits for the claim in flight, then releases the jobs held ahead. */
  async drain(): Promise<void> {
    await this.#claimDone;
    this.#releaseWaiting();
  }

  /**
   * Asks for a look for work on the next turn of the event loop; many asks make one look. `news`:
   * something happened that may have scheduled a job, so the next run-at must be read again.
   */
  wake(news = false): void {
    if (news) this.#news++;
    if (this.#stopped || this.#paused || this.#wakeQueued) return;
    this.#wakeQueued = true;
    setImmediate(() => {
      this.#wakeQueued = false;
      void this.fill();
    });
  }

  /**
   * Claims as many jobs as there is free capacity for, and starts them. One claim per turn of the
   * event loop, so outcomes get recorded between claims and timers keep firing.
   */
  async fill(): Promise<void> {
    if (this.#stopped || this.#paused) return;
    if (this.#filling) {
      // A wake during a look (a job enqueued while the last claim was in flight) must not be lost.
      this.#fillAgain = true;
      return;
    }
    this.#filling = true;
    this.#fillAgain = false;
    let done!: () => void;
    this.#claimDone = new Promise((resolve) => (done = resolve));
    try {
      await this.#claim();
    } catch (error) {
      this.#deps.fail(error, 'claiming jobs failed');
    } finally {
      this.#filling = false;
      done();
      if (this.#fillAgain) this.wake();
    }
  }

  /**
   * A job of `queue` ended (for the rate of jobs to hold ahead). In a limited queue its slot can
   * come back with the next claim, before its outcome is written, so that claim goes out now.
   */
  finished(queue: string): void {
    this.#ahead.finished(queue);
    if (this.#limited.has(queue)) this.wake();
  }

  /** Starts claimed jobs that wait, oldest first, while their queue has room to run them. */
  startWaiting(): void {
    if (this.#stopped) return;
    for (const queue of this.#ahead.queues()) {
      const capacity = this.#deps.capacity.get(queue) ?? 0;
      while (this.#deps.activeIn(queue) < capacity) {
        const job = this.#ahead.take(queue);
        if (!job) break;
        this.#deps.startJob(job);
      }
    }
  }

  async #claim(): Promise<void> {
    const { store, workerId, leaseMs } = this.#deps;
    const tasks = this.#deps.claimableTasks();
    const wanted = this.#freeCapacity(tasks);
    if (wanted.length === 0) return;
    const observe = this.#deps.observeClaim?.();
    const sent = performance.now();
    const limited = this.#limited.size > 0 && wanted.some((queue) => this.#limited.has(queue.name));
    const jobs = await store.jobClaim({
      workerId,
      queues: wanted,
      tasks: tasks.map((task) => task.name),
      leaseMs,
      ...(limited && { ended: this.#deps.endedLeases(this.#limited) }),
    });
    this.#ahead.claimed(jobs, performance.now() - sent, performance.now());
    observe?.(jobs.length);
    // A limited queue's next wake (a token, a hold) moves with every claim of it.
    if (limited) this.#news++;
    if (this.#stopped) this.#releaseWaiting();
    else this.startWaiting();
    if (jobs.length === wanted.reduce((sum, queue) => sum + queue.limit, 0)) this.wake();
    // Off the claim's path: the next claim need not wait for this read (on PostgreSQL, a round trip).
    else
      void this.#scheduleWake().catch((error: unknown) =>
        this.#deps.fail(error, 'reading when the next job is due failed'),
      );
  }

  /** Hands jobs claimed ahead back to the queue (on shutdown), as unstarted. */
  #releaseWaiting(): void {
    for (const job of this.#ahead.clear()) {
      const failed = `releasing job ${job.id} failed; it runs again after its lease expires`;
      const lease = leaseOf(job, this.#deps.workerId);
      this.#deps
        .record({ kind: 'released', lease })
        .catch((error: unknown) => this.#deps.fail(error, failed));
    }
  }

  /**
   * Free capacity per queue. A queue whose claimable tasks all run in threads or processes claims
   * no more than those pools have room for, so a high queue concurrency never leases jobs that
   * would only wait for a thread.
   */
  #freeCapacity(tasks: readonly Task[] = this.#deps.claimableTasks()): QueueClaim[] {
    const room = new Map<string, number>();
    for (const task of tasks) {
      room.set(task.queue, Math.max(room.get(task.queue) ?? 0, this.#deps.roomFor(task)));
    }
    const wanted: QueueClaim[] = [];
    for (const [name, capacity] of this.#deps.capacity) {
      const held = this.#deps.activeIn(name) + this.#ahead.waitingIn(name);
      const ahead = this.#ahead.ahead(name, capacity);
      const claim = queueClaim({ name, capacity, held, ahead, room: room.get(name) ?? Infinity });
      if (claim) wanted.push(claim);
    }
    return wanted;
  }

  /** The earliest run-at of a scheduled job, read again only when something may have changed it. */
  async #readNextRunAt(): Promise<number | null> {
    const known = this.#nextRunAt;
    if (known && known.news === this.#news) return known.at;
    const news = this.#news;
    const queues = [...this.#deps.capacity.keys()];
    const at = await this.#deps.store.jobNextRunAt({
      queues,
      tasks: this.#deps.claimableTasks().map((task) => task.name),
    });
    this.#nextRunAt = { at, news };
    return at;
  }

  /** Sets a timer for the next scheduled job, so delays and backoffs start on time. */
  async #scheduleWake(): Promise<void> {
    if (this.#freeCapacity().length === 0) return;
    const next = await this.#readNextRunAt();
    clearTimeout(this.#wakeTimer);
    if (next === null || this.#stopped) return;
    const delay = next - this.#deps.store.clock.now();
    if (delay >= this.#deps.pollInterval) return;
    this.#wakeTimer = setTimeout(() => this.wake(true), Math.max(delay, 1));
    this.#wakeTimer.unref();
  }
}

/** The numbers one queue's claim is decided from. */
interface QueueLoad {
  name: string;
  /** Jobs of the queue that may run at once. */
  capacity: number;
  /** Jobs of the queue running or waiting (claimed ahead). */
  held: number;
  /** Jobs to hold beyond those running ({@link ClaimAhead.ahead}). */
  ahead: number;
  /** Jobs the pools of its tasks could start (Infinity when one of them runs inline). */
  room: number;
}

/** What one queue claims; undefined when it has no room. */
function queueClaim({ name, capacity, held, ahead, room }: QueueLoad): QueueClaim | undefined {
  const free = room !== Infinity ? Math.min(capacity - held, room) : capacity + ahead - held;
  // Jobs beyond the free slots are claimed ahead: `claimed`, not `running`, until they start.
  return free > 0
    ? { name, limit: free, start: Math.max(0, Math.min(free, capacity - held)) }
    : undefined;
}
