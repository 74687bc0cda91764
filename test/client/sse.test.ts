import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSse, SseParser, type SseMessage } from '../../src/client/sse.ts';

const STREAM =
  [
    ': offload event stream',
    '',
    'event: state',
    'data: {"a":1}',
    '',
    ': ping',
    '',
    'id: 7',
    'event: progress',
    'data: line one',
    'data:line two',
    '',
    'data: unnamed',
    '',
    'retry: 100',
    'event: end',
    'data',
    '',
  ].join('\n') + '\n';

const EXPECTED: SseMessage[] = [
  { event: 'state', data: '{"a":1}', id: undefined },
  { event: 'progress', data: 'line one\nline two', id: '7' },
  { event: 'message', data: 'unnamed', id: '7' },
  { event: 'end', data: '', id: '7' },
];

function parseInPieces(text: string, cuts: number[]): SseMessage[] {
  const parser = new SseParser();
  const out: SseMessage[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    out.push(...parser.push(text.slice(from, cut)));
    from = cut;
  }
  return [...out, ...parser.end()];
}

for (const [name, ending] of [
  ['LF', '\n'],
  ['CRLF', '\r\n'],
  ['CR', '\r'],
] as const) {
  test(`SseParser reads ${name} line endings cut at every position`, () => {
    const text = STREAM.replaceAll('\n', ending);
    assert.deepEqual(parseInPieces(text, []), EXPECTED);
    for (let cut = 1; cut < text.length; cut++)
      assert.deepEqual(parseInPieces(text, [cut]), EXPECTED, `cut at ${cut}`);
  });
}

test('SseParser drops an event that the stream ends before its blank line', () => {
  assert.deepEqual(parseInPieces('event: state\ndata: 1\n\nevent: end\ndata: 2\n', []), [
    { event: 'state', data: '1', id: undefined },
  ]);
});

test('readSse decodes UTF-8 split across chunks and stops at the end of the body', async () => {
  const bytes = new TextEncoder().encode('event: state\ndata: "héllo ✓"\n\n');
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 3) controller.enqueue(bytes.slice(i, i + 3));
      controller.close();
    },
  });
  const messages: SseMessage[] = [];
  for await (const message of readSse(body)) messages.push(message);
  assert.deepEqual(messages, [{ event: 'state', data: '"héllo ✓"', id: undefined }]);
});
