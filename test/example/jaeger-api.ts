// Reads traces through Jaeger's own query API (v1, /api/traces), independently of the demo's
// reader (which uses API v3): the example test's assertions rest on what Jaeger stored.

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags: { key: string; value: unknown }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

async function get<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: T }).data;
}

export function getTrace(jaegerUrl: string, traceId: string): Promise<JaegerTrace[]> {
  return get<JaegerTrace[]>(`${jaegerUrl}/api/traces/${traceId}`);
}

/** Ids of every trace in which `service` has a span tagged agentops.session.id=<sessionId>. */
export async function tracesClaiming(jaegerUrl: string, service: string, sessionId: string): Promise<string[]> {
  const query = new URLSearchParams({
    service,
    tags: JSON.stringify({ 'agentops.session.id': sessionId }),
    lookback: '1h',
    limit: '100',
  });
  return (await get<JaegerTrace[]>(`${jaegerUrl}/api/traces?${query}`)).map((t) => t.traceID);
}

export function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

export function serviceOf(trace: JaegerTrace, span: JaegerSpan): string {
  return trace.processes[span.processID]?.serviceName ?? '?';
}

/** Parent (CHILD_OF) span id, if any. */
export function parentOf(span: JaegerSpan): string | undefined {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
}

/** Span links as Jaeger keeps them: FOLLOWS_FROM references, `traceId/spanId` when foreign. */
export function linksOf(span: JaegerSpan): string[] {
  return span.references
    .filter((r) => r.refType === 'FOLLOWS_FROM')
    .map((r) => (r.traceID === span.traceID ? r.spanID : `${r.traceID}/${r.spanID}`));
}
