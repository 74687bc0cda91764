import type { Readable } from 'node:stream';

/**
 * Keeps the last `limit` characters a worker wrote to stdout and stderr (interleaved as they
 * arrived), and optionally passes everything on to the parent's own streams.
 */
export class OutputTail {
  readonly #limit: number;
  #text = '';
  /** Characters written since the worker started (the tail's end, as an offset). */
  #written = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Reads a worker's stream into the tail; `forward` also copies it to this process's stream. */
  capture(stream: Readable | null | undefined, forward: NodeJS.WriteStream | undefined): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.append(chunk);
      forward?.write(chunk);
    });
  }

  append(chunk: string): void {
    this.#written += chunk.length;
    if (this.#limit === 0) return;
    this.#text = (this.#text + chunk).slice(-this.#limit);
  }

  get offset(): number {
    return this.#written;
  }

  /** The tail, or only what was written since `offset` (as far as the tail still holds it). */
  text(offset = 0): string {
    const wanted = this.#written - offset;
    return wanted >= this.#text.length ? this.#text : this.#text.slice(this.#text.length - wanted);
  }
}
