/** A W3C `traceparent`: version, 32-hex trace id, 16-hex parent id, 2-hex flags. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;
const ZERO_TRACE = '0'.repeat(32);

/**
 * The trace id of a job, from the W3C `traceparent` string in its `meta` (`meta.traceparent`),
 * or undefined when it has none, or one that is not a valid `traceparent` (version `ff` and an
 * all-zero trace id are invalid, as the W3C Trace Context says).
 */
export function traceIdOf(meta: unknown): string | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  const traceparent = (meta as { traceparent?: unknown }).traceparent;
  if (typeof traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!match || match[1] === 'ff' || match[2] === ZERO_TRACE) return undefined;
  return match[2];
}
