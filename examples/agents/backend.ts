/**
 * Where the demo's spans go and where it reads them back from: Jaeger when one is running, built
 * (scripts/jaeger.mjs) or given by JAEGER_URL, else the demo's own OTLP collector.
 */
import { ensureJaeger, type JaegerHandle } from '../../scripts/jaeger.mjs';
import { parseOtlpTraces, startCollector, type CollectedSpan, type OtlpTracesDocument } from './collector.js';

export interface TraceBackend {
  /** What the demo says it checks against. */
  label: string;
  /** OTLP/HTTP base URL the services export to. */
  otlpUrl: string;
  /**
   * The spans of each session's trace, plus those of any other trace that claims one of the
   * sessions (a broken hop), once the backend has stored everything the services flushed.
   */
  read(sessionIds: string[], services: string[]): Promise<CollectedSpan[]>;
  /** Where a session opens in the backend, when it has a query API or viewer. */
  traceUrl(sessionId: string): string | undefined;
  close(): Promise<void>;
}

/** Jaeger when there is one (never builds it: that stays `npm run services:up`), else undefined. */
export async function jaegerBackend(log: (line: string) => void): Promise<TraceBackend | undefined> {
  const jaeger = await ensureJaeger({ build: false, log });
  if (jaeger === null) return undefined;
  if (jaeger.started) log(`started the Jaeger built in .cache/jaeger (left running: node scripts/jaeger.mjs stop)`);
  const ui = await hasWebUi(jaeger.url);
  return {
    label: `Jaeger at ${jaeger.url}`,
    otlpUrl: jaeger.otlpUrl,
    read: (sessionIds, services) => readSettled(jaeger, sessionIds, services),
    traceUrl: (id) => (ui ? `${jaeger.url}/trace/${id}` : `${jaeger.url}/api/traces/${id}`),
    // A Jaeger the demo started stays up, so the printed trace URLs keep answering.
    close: async () => {},
  };
}

/** The demo's own collector: fast on a fresh machine, nothing to build. */
export async function collectorBackend(): Promise<TraceBackend> {
  const collector = await startCollector();
  return {
    label: `the demo's OTLP collector at ${collector.url}`,
    otlpUrl: collector.url,
    read: async () => collector.spans(),
    traceUrl: () => undefined,
    close: () => collector.close(),
  };
}

/**
 * A Jaeger built from the Go module (scripts/jaeger.mjs) serves a placeholder page instead of its
 * web UI, whose assets are not in the module; point at the trace's JSON there instead.
 */
async function hasWebUi(url: string): Promise<boolean> {
  const page = await fetch(url).then(
    (r) => r.text(),
    () => '',
  );
  return page.length > 0 && !page.includes('placeholder for the Jaeger UI');
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Reads through Jaeger's API v3, which answers in OTLP/JSON (links with their attributes, span
 * kinds and status as sent). Besides each session's own trace it searches every service for spans
 * carrying the session id, so a span that claims the session from another trace is seen too.
 */
async function readOnce(jaeger: JaegerHandle, sessionIds: string[], services: string[]): Promise<CollectedSpan[]> {
  const traces = new Map<string, CollectedSpan[]>();
  const api = `${jaeger.url}/api/v3/traces`;
  const since = new Date(Date.now() - 3_600_000).toISOString();
  const until = new Date(Date.now() + 60_000).toISOString();
  for (const id of sessionIds) {
    const own = await getJson<{ result?: OtlpTracesDocument }>(`${api}/${id}`);
    traces.set(id, parseOtlpTraces(own?.result ?? {}));
    for (const service of services) {
      const query = new URLSearchParams({
        'query.service_name': service,
        'query.attributes': JSON.stringify({ 'agentops.session.id': id }),
        'query.start_time_min': since,
        'query.start_time_max': until,
        'query.num_traces': '100',
      });
      const found = await getJson<{ result?: OtlpTracesDocument }>(`${api}?${query}`);
      for (const span of parseOtlpTraces(found?.result ?? {})) {
        if (span.traceId === id) continue;
        traces.set(span.traceId, [...(traces.get(span.traceId) ?? []).filter((s) => s.spanId !== span.spanId), span]);
      }
    }
  }
  return [...traces.values()].flat();
}

/**
 * Jaeger stores what it receives asynchronously after acknowledging it; read until two reads a
 * moment apart agree, so the check never runs on a half-stored trace.
 */
async function readSettled(jaeger: JaegerHandle, sessionIds: string[], services: string[]): Promise<CollectedSpan[]> {
  let previous = -1;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const spans = await readOnce(jaeger, sessionIds, services);
    if (spans.length === previous || Date.now() > deadline) return spans;
    previous = spans.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}
