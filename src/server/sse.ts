import type { FastifyReply } from 'fastify';

/** A server-sent event stream on a hijacked reply: named events, JSON data, and keep-alive comments. */
export class EventStream {
  readonly #reply: FastifyReply;
  readonly #heartbeat: NodeJS.Timeout;
  #open = true;
  readonly closed: Promise<void>;

  constructor(reply: FastifyReply, options: { heartbeatMs?: number } = {}) {
    this.#reply = reply;
    reply.hijack();
    reply.raw.writeHead(200, {
      // Headers hooks already set (CORS, rate limit) would be lost by hijacking; keep them.
      ...(reply.getHeaders() as Record<string, string | string[]>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.write(': offload event stream\n\n');
    this.#heartbeat = setInterval(
      () => this.#write(': ping\n\n'),
      options.heartbeatMs ?? 15_000,
    ).unref();
    this.closed = new Promise((resolve) =>
      reply.raw.once('close', () => {
        this.#open = false;
        clearInterval(this.#heartbeat);
        resolve();
      }),
    );
  }

  get open(): boolean {
    return this.#open;
  }

  send(event: string, data: unknown, id?: string): void {
    this.#write(
      `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
    );
  }

  end(): void {
    if (!this.#open) return;
    this.#open = false;
    clearInterval(this.#heartbeat);
    this.#reply.raw.end();
  }

  #write(chunk: string): void {
    if (this.#open) this.#reply.raw.write(chunk);
  }
}
