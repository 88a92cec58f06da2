// A local Sentry DSN: an HTTP server that accepts what Sentry's transport sends
// (`POST /api/<project>/envelope/`, gzip or not) and parses each envelope: one JSON header line,
// then per item a JSON item header and its payload (JSON, or raw text when it is not).
// Sentry 10 sends transactions as `transaction` items; Sentry 11 streams spans as `span` items
// (a `{ version: 2, items: [...] }` container). Errors are `event` items in both.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One item of an envelope, its payload parsed. */
interface EnvelopeItem {
  type: string;
  payload: unknown;
}

/** A Sentry event or transaction payload, the fields the tests read. */
interface SentryEvent {
  type?: string;
  transaction?: string;
  exception?: { values?: { type?: string; value?: string }[] };
  contexts?: { trace?: { trace_id?: string; span_id?: string; parent_span_id?: string } };
  spans?: { trace_id?: string; description?: string; op?: string }[];
}

/** A streamed span (Sentry 11, `span` item, version 2). */
interface StreamedSpan {
  name?: string;
  trace_id?: string;
  span_id?: string;
  is_segment?: boolean;
  links?: { trace_id?: string; span_id?: string }[];
  attributes?: Record<string, { value?: unknown }>;
}

export interface DsnReceiver {
  /** The DSN to give `Sentry.init`. */
  dsn: string;
  items: EnvelopeItem[];
  /** Error events (exceptions). */
  events(): SentryEvent[];
  /** Transactions (Sentry 10). */
  transactions(): SentryEvent[];
  /** Streamed spans (Sentry 11). */
  streamedSpans(): StreamedSpan[];
  close(): Promise<void>;
}

function parseEnvelope(body: string): EnvelopeItem[] {
  const lines = body.split('\n');
  const items: EnvelopeItem[] = [];
  // Line 0 is the envelope header; then item header and payload pairs. Payloads here are one
  // line each (JSON, no length-prefixed binary attachments).
  for (let i = 1; i < lines.length; i += 2) {
    if (lines[i] === '') continue;
    const header = JSON.parse(lines[i]!) as { type: string };
    const text = lines[i + 1] ?? '';
    let payload: unknown = text;
    try {
      payload = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    items.push({ type: header.type, payload });
  }
  return items;
}

export async function dsnReceiver(): Promise<DsnReceiver> {
  const items: EnvelopeItem[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    if (req.method === 'POST' && /^\/api\/\d+\/envelope\/?/.test(req.url ?? '')) items.push(...parseEnvelope(body.toString('utf8')));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const of = (type: string) => items.filter((i) => i.type === type).map((i) => i.payload);
  return {
    dsn: `http://0123456789abcdef@127.0.0.1:${port}/42`,
    items,
    events: () => of('event') as SentryEvent[],
    transactions: () => of('transaction') as SentryEvent[],
    streamedSpans: () => (of('span') as { items?: StreamedSpan[] }[]).flatMap((c) => c.items ?? []),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
