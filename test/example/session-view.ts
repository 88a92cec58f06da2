// Opens the demo's session view in headless Chromium and compares what the page laid out with the
// trace as Jaeger stored it: rows, bar positions and widths, link markers.
import { pathToFileURL } from 'node:url';
import { dumpDom } from '../../scripts/chromium.mjs';
import { linksOf, type JaegerTrace } from './jaeger-api.js';

interface MeasuredRow {
  spanId: string;
  left: number;
  width: number;
  top: number;
  bottom: number;
}

export interface MeasuredSession {
  id: string;
  track: { left: number; width: number };
  rows: MeasuredRow[];
  links: { from: string; to: string; ends: [number, number, number, number] | null }[];
}

/** Bars are at least 1 px wide and placed to sub-pixel precision: allow a little more than that. */
const TOLERANCE_PX = 1.5;

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function preContent(dom: string, id: string): string | undefined {
  const match = new RegExp(`<pre id="${id}"[^>]*>([\\s\\S]*?)</pre>`).exec(dom);
  return match ? unescapeHtml(match[1]!) : undefined;
}

/** Script errors the page caught, and its laid-out geometry (#measure makes the page write it). */
export async function measureView(chromium: string, file: string): Promise<{ errors: string[]; sessions: MeasuredSession[] }> {
  const dom = await dumpDom(chromium, `${pathToFileURL(file).href}#measure`, { width: 1400, height: 900 });
  const errors = JSON.parse(preContent(dom, 'script-errors') ?? '[]') as string[];
  const measured = preContent(dom, 'measurements');
  if (measured === undefined) return { errors: [...errors, 'the page wrote no measurements'], sessions: [] };
  return { errors, sessions: (JSON.parse(measured) as { sessions: MeasuredSession[] }).sessions };
}

/** Where the layout disagrees with the trace; empty when every row and link matches. */
export function layoutProblems(trace: JaegerTrace, view: MeasuredSession): string[] {
  const problems: string[] = [];
  if (view.rows.length !== trace.spans.length) problems.push(`${view.rows.length} rows for ${trace.spans.length} spans`);
  const t0 = Math.min(...trace.spans.map((s) => s.startTime));
  const t1 = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
  const px = (us: number) => (us / (t1 - t0)) * view.track.width;
  const rows = new Map(view.rows.map((r) => [r.spanId, r]));
  for (const span of trace.spans) {
    const row = rows.get(span.spanID);
    if (row === undefined) {
      problems.push(`no row for span ${span.spanID} (${span.operationName})`);
      continue;
    }
    const left = view.track.left + px(span.startTime - t0);
    const width = Math.max(1, px(span.duration));
    if (Math.abs(row.left - left) > TOLERANCE_PX)
      problems.push(`${span.operationName}: bar at ${row.left.toFixed(1)} px, span starts at ${left.toFixed(1)} px`);
    if (Math.abs(row.width - width) > TOLERANCE_PX)
      problems.push(`${span.operationName}: bar ${row.width.toFixed(1)} px wide, span lasts ${width.toFixed(1)} px`);
  }

  const expected = trace.spans.flatMap((s) => linksOf(s).map((from) => `${from}->${s.spanID}`)).sort();
  const drawn = view.links.map((l) => `${l.from}->${l.to}`).sort();
  if (JSON.stringify(drawn) !== JSON.stringify(expected))
    problems.push(`link markers ${JSON.stringify(drawn)}, span links ${JSON.stringify(expected)}`);
  // A drawn curve must run from the linked span's row to the linking span's bar.
  for (const link of view.links) {
    if (link.ends === null) continue;
    const [, y1, x2, y2] = link.ends;
    const from = rows.get(link.from);
    const to = rows.get(link.to);
    if (from === undefined || to === undefined) continue;
    const inside = (y: number, r: MeasuredRow) => y >= r.top && y <= r.bottom;
    if (!inside(y1, from) || !inside(y2, to) || Math.abs(x2 - to.left) > TOLERANCE_PX) {
      problems.push(`link ${link.from}->${link.to} is drawn from y=${y1} to (${x2}, ${y2}), not between its rows`);
    }
  }
  return problems;
}
