/** What a {@link TaskQueue} needs of its items: whether they settled, and whether they wait in it. */
export interface Queued {
  settled: boolean;
  waiting: boolean;
}

/** Tasks waiting for a worker, first in first out. Cancelled tasks are skipped lazily. */
export class TaskQueue<T extends Queued> {
  #items: Array<T | undefined> = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(task: T): void {
    task.waiting = true;
    this.#items.push(task);
    this.#size++;
  }

  /** A task settled while it waited: it no longer counts, and `shift` will skip it. */
  forget(task: T): void {
    if (!task.waiting) return;
    task.waiting = false;
    this.#size--;
  }

  shift(): T | undefined {
    while (this.#head < this.#items.length) {
      const task = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (task) task.waiting = false;
      if (task && !task.settled) {
        this.#size--;
        return task;
      }
    }
    return undefined;
  }

  /** Empties the queue, returning the tasks still waiting. */
  drain(): T[] {
    const waiting = this.#items
      .slice(this.#head)
      .filter((task): task is T => !!task && !task.settled);
    for (const task of waiting) task.waiting = false;
    this.#items = [];
    this.#head = 0;
    this.#size = 0;
    return waiting;
  }
}
