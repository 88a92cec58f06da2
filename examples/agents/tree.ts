/** Renders one session's spans as a tree and checks that they all landed in the session. */
import type { CollectedSpan } from './collector.js';

/** What a session must contain for the demo to call it whole. */
export interface SessionExpectation {
  sessionId: string;
  /** Services that must have spans in the session trace. */
  services: string[];
  /** Spans with this name expected this many times (e.g. one writer job per sub-task). */
  counts?: Record<string, number>;
}

/** The transport that connected a span to its parent, when they run in different services. */
function hopLabel(span: CollectedSpan): string {
  const system = span.attributes['messaging.system'];
  if (system === 'kafka') return 'Kafka';
  if (system === 'bullmq') return 'BullMQ';
  if (span.attributes['http.request.method'] !== undefined) return 'HTTP';
  return 'hop';
}

function ms(span: CollectedSpan): string {
  const d = Number(span.endNs - span.startNs) / 1e6;
  return `${d < 10 ? d.toFixed(1) : Math.round(d)} ms`;
}

/** Spans of one session: its trace, in start order. */
export function sessionSpans(all: CollectedSpan[], sessionId: string): CollectedSpan[] {
  return all.filter((s) => s.traceId === sessionId).sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
}

/** Problems that make the session not whole; empty when it is. */
export function checkSession(all: CollectedSpan[], expected: SessionExpectation): string[] {
  const problems: string[] = [];
  const id = expected.sessionId;
  const inTrace = sessionSpans(all, id);
  const ids = new Set(inTrace.map((s) => s.spanId));
  const roots = inTrace.filter((s) => s.parentSpanId === undefined);
  if (roots.length !== 1) problems.push(`expected one root span in trace ${id}, found ${roots.length}`);
  for (const s of inTrace) {
    if (s.parentSpanId !== undefined && !ids.has(s.parentSpanId))
      problems.push(`orphan: ${s.service} "${s.name}" has parent ${s.parentSpanId}, not in the session trace`);
    if (s.attributes['agentops.session.id'] !== id) problems.push(`${s.service} "${s.name}" lacks agentops.session.id=${id}`);
  }
  // A span claiming the session from outside its trace is exactly what must not happen.
  for (const s of all) {
    if (s.traceId !== id && (s.attributes['agentops.session.id'] === id || s.attributes['session.id'] === id)) {
      problems.push(`${s.service} "${s.name}" claims session ${id} from trace ${s.traceId}`);
    }
  }
  for (const service of expected.services) {
    if (!inTrace.some((s) => s.service === service)) problems.push(`no span of ${service} in the session`);
  }
  for (const [name, count] of Object.entries(expected.counts ?? {})) {
    const found = inTrace.filter((s) => s.name === name).length;
    if (found !== count) problems.push(`expected ${count} × "${name}", found ${found}`);
  }
  return problems;
}

/** One span in tree order: its parent in the session (if any), depth, and whether it is the last child. */
export interface TreeRow {
  span: CollectedSpan;
  parent: CollectedSpan | undefined;
  depth: number;
  /** For each ancestor level below the root, whether that ancestor was a last child (no guide line). */
  lastAtLevel: boolean[];
}

/**
 * The session's spans depth first, children in start order. A span whose parent is not in the
 * session (an orphan) is shown as another root, so nothing is hidden from the reader.
 */
export function treeRows(all: CollectedSpan[], sessionId: string): TreeRow[] {
  const spans = sessionSpans(all, sessionId);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, CollectedSpan[]>();
  for (const s of spans) {
    const parent = s.parentSpanId !== undefined && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const rows: TreeRow[] = [];
  const walk = (span: CollectedSpan, parent: CollectedSpan | undefined, lastAtLevel: boolean[]) => {
    rows.push({ span, parent, depth: lastAtLevel.length, lastAtLevel });
    const kids = children.get(span.spanId) ?? [];
    kids.forEach((k, i) => walk(k, span, [...lastAtLevel, i === kids.length - 1]));
  };
  for (const root of children.get(undefined) ?? []) walk(root, undefined, []);
  return rows;
}

/** The transport label of a span that crosses services from its parent, else undefined. */
export function crossingHop(row: TreeRow): string | undefined {
  return row.parent !== undefined && row.parent.service !== row.span.service ? hopLabel(row.span) : undefined;
}

/** True for a span that joined its session at the root rather than under its caller. */
export function isRejoined(span: CollectedSpan): boolean {
  return span.attributes['agentops.hop.shape'] === 'rejoin';
}

/** The session as an indented tree: service, span, kind, duration, and the hop between services. */
export function renderSessionTree(all: CollectedSpan[], sessionId: string): string {
  const spans = sessionSpans(all, sessionId);
  const width = Math.max(...spans.map((s) => s.service.length), 7);
  const lines = treeRows(all, sessionId).map((row) => {
    const { span, lastAtLevel } = row;
    // Guides for the ancestors below the root, then this span's own branch.
    const guides = lastAtLevel
      .slice(0, -1)
      .map((last) => (last ? '   ' : '│  '))
      .join('');
    const branch = lastAtLevel.length === 0 ? '' : lastAtLevel[lastAtLevel.length - 1] ? '└─ ' : '├─ ';
    const hop = crossingHop(row);
    const crossed = hop === undefined ? '' : `[${hop}] `;
    const rejoin = isRejoined(span) ? ' (rejoined, linked to its producer)' : '';
    return `  ${span.service.padEnd(width)}  ${guides}${branch}${crossed}${span.name}  · ${span.kind} · ${ms(span)}${rejoin}`;
  });
  const services = [...new Set(spans.map((s) => s.service))];
  const perService = services.map((svc) => `${svc} ${spans.filter((s) => s.service === svc).length}`).join(', ');
  return [`session ${sessionId}: ${spans.length} spans (${perService})`, ...lines].join('\n');
}
