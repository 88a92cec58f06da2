/**
 * A small OTLP/HTTP (JSON) trace collector: the demo's services export to it over the network,
 * as they would to Jaeger or AgentOps, and the demo reads what arrived. The demo's fallback when
 * no Jaeger is running or built.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as it arrived over OTLP. */
export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  statusCode: number;
}

/** A running collector. */
export interface Collector {
  /** Base URL; services export to `${url}/v1/traces`. */
  url: string;
  spans(): CollectedSpan[];
  close(): Promise<void>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
};
type OtlpAttribute = { key: string; value: OtlpValue };

const KINDS = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'] as const;

function value(v: OtlpValue | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = value(a.value);
  return out;
}

/** OTLP/JSON ids are hex; tolerate base64 from exporters that follow the protobuf mapping. */
function hexId(id: string | undefined, bytes: number): string | undefined {
  if (id === undefined || id === '') return undefined;
  if (id.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

/** An OTLP/JSON traces document: an export request, or a trace as a query API returns it. */
export interface OtlpTracesDocument {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- OTLP JSON spans, read field by field
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: Record<string, any>[] }[] }[];
}

/** The spans of an OTLP/JSON traces document. */
export function parseOtlpTraces(doc: OtlpTracesDocument): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const rs of doc.resourceSpans ?? []) {
    const service = String(attributes(rs.resource?.attributes)['service.name'] ?? 'unknown');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          traceId: hexId(s.traceId, 16)!,
          spanId: hexId(s.spanId, 8)!,
          parentSpanId: hexId(s.parentSpanId, 8),
          name: String(s.name),
          kind: KINDS[Number(s.kind ?? 1)] ?? 'internal',
          startNs: BigInt(s.startTimeUnixNano ?? 0),
          endNs: BigInt(s.endTimeUnixNano ?? 0),
          attributes: attributes(s.attributes),
          links: ((s.links ?? []) as { traceId: string; spanId: string; attributes?: OtlpAttribute[] }[]).map((l) => ({
            traceId: hexId(l.traceId, 16)!,
            spanId: hexId(l.spanId, 8)!,
            attributes: attributes(l.attributes),
          })),
          statusCode: Number(s.status?.code ?? 0),
        });
      }
    }
  }
  return out;
}

/** Starts the collector on a loopback port (0 = any free one). */
export async function startCollector(port = 0): Promise<Collector> {
  const spans: CollectedSpan[] = [];
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    if (!String(req.headers['content-type'] ?? '').includes('json')) {
      res.writeHead(415).end('this collector speaks OTLP/HTTP JSON');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        spans.push(...parseOtlpTraces(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTracesDocument));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    spans: () => spans.slice(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
