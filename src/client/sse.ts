/** One server-sent event as the stream carried it: its name (`message` when unnamed), data and id. */
export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Parses the `text/event-stream` format (the WHATWG rules EventSource follows) from text in
 * arbitrary chunks: any line ending, comments, multi-line `data`, events split across chunks.
 */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;

  /** Feeds the next chunk; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    this.#buffer += chunk;
    const messages: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.#buffer.length; i++) {
      const char = this.#buffer[i];
      if (char !== '\n' && char !== '\r') continue;
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (char === '\r' && i === this.#buffer.length - 1) break;
      const message = this.#line(this.#buffer.slice(start, i));
      if (message) messages.push(message);
      if (char === '\r' && this.#buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    return messages;
  }

  /** Ends the stream: a last line ended by a lone CR still counts; an event with no blank line after it is dropped. */
  end(): SseMessage[] {
    const messages = this.#buffer.endsWith('\r') ? this.push('\n') : [];
    this.#buffer = '';
    this.#event = '';
    this.#data = [];
    return messages;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    return undefined;
  }

  #dispatch(): SseMessage | undefined {
    const event = this.#event || 'message';
    const data = this.#data;
    this.#event = '';
    this.#data = [];
    if (data.length === 0) return undefined;
    return { event, data: data.join('\n'), id: this.#id };
  }
}

/** Yields the events of a response body until it ends; cancels the body if the consumer stops early. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let done = false;
  try {
    while (!done) {
      const chunk = await reader.read();
      done = chunk.done;
      yield* parser.push(done ? decoder.decode() : decoder.decode(chunk.value, { stream: true }));
      if (done) yield* parser.end();
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
