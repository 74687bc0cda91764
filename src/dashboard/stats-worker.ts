/**
 * The dashboard's Web Worker: it holds the event stream and does the counting, so the page's own
 * thread only draws a summary a few times a second, however many events arrive.
 */
import { EventAggregator, type StreamEvent } from './stats.ts';

interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
const aggregator = new EventAggregator(120);
let source: EventSource | undefined;
let changed = false;
let jobEvents = 0;

function connect(): void {
  source?.close();
  source = new EventSource('/v1/events');
  source.addEventListener('job', (message) => {
    aggregator.add(JSON.parse((message as MessageEvent<string>).data) as StreamEvent);
    jobEvents++;
  });
  source.addEventListener('changed', () => (changed = true));
  source.onopen = () => scope.postMessage({ type: 'connection', open: true });
  source.onerror = () => scope.postMessage({ type: 'connection', open: false });
}

setInterval(() => {
  scope.postMessage({ type: 'stats', stats: aggregator.snapshot(Date.now()) });
  if (changed || jobEvents > 0) scope.postMessage({ type: 'changed' });
  changed = false;
  jobEvents = 0;
}, 500);

scope.onmessage = (event) => {
  if ((event.data as { type?: string })?.type === 'reconnect') connect();
};

connect();
