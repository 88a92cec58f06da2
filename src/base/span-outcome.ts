import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';

/** How a unit of work (a hop, a helper span) finished. */
export interface SpanOutcome {
  /** An error thrown or passed on by the handler: recorded, span status ERROR. */
  error?: unknown;
  /** Explicit status, when the transport reports failure without an error (HTTP 5xx). */
  status?: SpanStatusCode;
  /** Attributes known only at the end (response status code). */
  attributes?: Attributes;
}

/**
 * Semconv `error.type` of an error: its class name (`TypeError`, `KafkaJSError`), else its
 * `name`, else `_OTHER`. One rule for every span the library ends with an error, and for the
 * measurements of the same work (src/metrics), so that a span and its metric agree.
 */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const name = error.constructor?.name || error.name;
    if (typeof name === 'string' && name.length > 0) return name;
  }
  return '_OTHER';
}

/** Records `error` as an exception event on `span` without changing its status (a 4xx: the caller's fault). */
export function recordException(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
}

/** Marks `span` failed by `error`: the exception event, status ERROR with its message, and `error.type`. */
export function recordError(span: Span, error: unknown): void {
  recordException(span, error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.setAttribute('error.type', errorType(error));
}

/** Applies an outcome to a span (attributes, then error or status); does not end it. */
export function applyOutcome(span: Span, outcome: SpanOutcome | undefined): void {
  if (outcome === undefined) return;
  if (outcome.attributes) span.setAttributes(outcome.attributes);
  if (outcome.error !== undefined) recordError(span, outcome.error);
  else if (outcome.status !== undefined) span.setStatus({ code: outcome.status });
}
