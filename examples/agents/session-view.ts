/**
 * The session view: one self-contained HTML file (styles, script and data inline, nothing fetched)
 * with a waterfall per session. The data is prepared here; view/page.js only lays it out, so the
 * browser test can check the layout against the trace backend independently.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CollectedSpan } from './collector.js';
import { crossingHop, isRejoined, treeRows } from './tree.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Attribute names a cost may arrive under (none is written yet; the metrics work adds one). */
const COST_ATTRIBUTES = ['agentops.cost.usd', 'gen_ai.usage.cost', 'llm.usage.cost'];

/** One row of a waterfall, as the page receives it. Times are ms from the session's first span. */
export interface ViewRow {
  spanId: string;
  service: string;
  name: string;
  kind: CollectedSpan['kind'];
  depth: number;
  start: number;
  duration: number;
  /** Transport that carried the work from another service's parent span (HTTP, Kafka, BullMQ). */
  hop?: string;
  rejoined: boolean;
  error: boolean;
  /** Spans this one links to (in this session or, for a foreign trace, `traceId/spanId`). */
  links: string[];
  llm?: { model: string; promptTokens?: number; completionTokens?: number; costUsd?: number };
}

export interface ViewSession {
  id: string;
  /** Where the same trace opens in the backend, when it has a viewer. */
  traceUrl?: string;
  duration: number;
  rows: ViewRow[];
}

function numberAttr(span: CollectedSpan, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const v = span.attributes[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

function llmOf(span: CollectedSpan): ViewRow['llm'] {
  const model = span.attributes['gen_ai.response.model'] ?? span.attributes['gen_ai.request.model'];
  if (model === undefined) return undefined;
  return {
    model: String(model),
    promptTokens: numberAttr(span, 'gen_ai.usage.prompt_tokens', 'gen_ai.usage.input_tokens'),
    completionTokens: numberAttr(span, 'gen_ai.usage.completion_tokens', 'gen_ai.usage.output_tokens'),
    costUsd: numberAttr(span, ...COST_ATTRIBUTES),
  };
}

/** One session's rows in tree order, on a time axis from its first start to its last end. */
export function viewSession(all: CollectedSpan[], sessionId: string, traceUrl?: string): ViewSession {
  const rows = treeRows(all, sessionId);
  const t0 = rows.reduce((min, r) => (r.span.startNs < min ? r.span.startNs : min), rows[0]?.span.startNs ?? 0n);
  const t1 = rows.reduce((max, r) => (r.span.endNs > max ? r.span.endNs : max), t0);
  const ms = (ns: bigint) => Number(ns) / 1e6;
  return {
    id: sessionId,
    traceUrl,
    duration: ms(t1 - t0),
    rows: rows.map((row) => ({
      spanId: row.span.spanId,
      service: row.span.service,
      name: row.span.name,
      kind: row.span.kind,
      depth: row.depth,
      start: ms(row.span.startNs - t0),
      duration: ms(row.span.endNs - row.span.startNs),
      hop: crossingHop(row),
      rejoined: isRejoined(row.span),
      error: row.span.statusCode === 2,
      links: row.span.links.map((l) => (l.traceId === sessionId ? l.spanId : `${l.traceId}/${l.spanId}`)),
      llm: llmOf(row.span),
    })),
  };
}

/** JSON that is safe inside a <script> element (no `</script>`, no HTML comment openers). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/** Writes the HTML file and returns its absolute path. */
export function writeSessionView(file: string, sessions: ViewSession[], source: string): string {
  const read = (name: string) => fs.readFileSync(path.join(here, 'view', name), 'utf8');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>AgentOps sessions: ${sessions.length} session${sessions.length === 1 ? '' : 's'}</title>
<script>${read('errors.js')}</script>
<style>${read('page.css')}</style>
</head>
<body>
<header><h1>AgentOps sessions</h1><p class="source">${source.replace(/[<>&]/g, '')} · generated ${new Date().toISOString()}</p></header>
<main id="sessions"></main>
<script id="session-data" type="application/json">${scriptJson(sessions)}</script>
<script>${read('page.js')}</script>
</body>
</html>
`;
  const out = path.resolve(file);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, html);
  return out;
}
