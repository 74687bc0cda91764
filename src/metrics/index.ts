/**
 * offload/metrics: a Prometheus `/metrics` endpoint for a worker without the HTTP API (what
 * `offload worker --metrics-port` serves). Loads prom-client and node:http, not the server. See
 * docs/observability.md for every metric's name and labels.
 */
export { serveMetrics, type MetricsServer, type MetricsServerOptions } from './serve-metrics.ts';
