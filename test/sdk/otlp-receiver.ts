// A real OTLP/HTTP traces receiver for the tests: it decodes what the exporter sent, protobuf
// with protobufjs over the message definitions of opentelemetry-proto (field numbers as in
// trace.proto, resource.proto, common.proto; fields the tests do not read are left out, which
// protobuf decoding skips), JSON with JSON.parse. It can also play AgentOps' token exchange.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { attributes, type RawKeyValue } from '../helpers/otlp-values.js';

const OTLP_PROTO = `
syntax = "proto3";
package opentelemetry.proto;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Resource { repeated KeyValue attributes = 1; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  repeated KeyValue attributes = 9; fixed32 flags = 16;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

const ExportRequest = protobuf.parse(OTLP_PROTO, { keepCase: false }).root.lookupType('opentelemetry.proto.ExportTraceServiceRequest');

/** A span as received, in one shape for both encodings. */
interface ReceivedSpan {
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  traceId: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

/** One POST to /v1/traces. */
interface ReceivedRequest {
  contentType: string | undefined;
  headers: IncomingHttpHeaders;
  spans: ReceivedSpan[];
}

function hex(id: unknown): string {
  return typeof id === 'string' ? id.toLowerCase() : Buffer.from(id as Uint8Array).toString('hex');
}

/** Spans of a decoded request (protobufjs object or OTLP JSON): both use camelCase field names. */
function spansOf(request: { resourceSpans?: unknown[] }): ReceivedSpan[] {
  type Raw = {
    resource?: { attributes?: RawKeyValue[] };
    scopeSpans?: { spans?: { name: string; kind?: number; traceId: unknown; attributes?: RawKeyValue[] }[] }[];
  };
  return ((request.resourceSpans ?? []) as Raw[]).flatMap((rs) => {
    const resource = attributes(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        name: s.name,
        kind: s.kind ?? 0,
        traceId: hex(s.traceId),
        attributes: attributes(s.attributes),
        resource,
      })),
    );
  });
}

/** Answers for /v1/traces: 200, or a status the test sets (e.g. 401 for a token it refuses). */
export type TraceAnswer = (req: IncomingMessage) => number;

export interface Receiver {
  url: string;
  base: string;
  requests: ReceivedRequest[];
  tokenRequests: number;
  spans(): ReceivedSpan[];
  close(): Promise<void>;
}

/**
 * Starts the receiver. `issueToken` answers `POST /v3/auth/token` (a status code, or the token
 * to hand out); `answer` decides the status of each trace export (default 200).
 */
export async function otlpReceiver(options: { issueToken?: (n: number) => string | number; answer?: TraceAnswer } = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const state = { tokenRequests: 0 };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (req.url === '/v3/auth/token' && req.method === 'POST' && options.issueToken !== undefined) {
      const issued = options.issueToken(++state.tokenRequests);
      if (typeof issued === 'number') res.writeHead(issued).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: issued }));
      return;
    }
    if (req.url !== '/v1/traces' || req.method !== 'POST') return void res.writeHead(404).end();
    const status = options.answer?.(req) ?? 200;
    if (status !== 200) return void res.writeHead(status).end();
    const contentType = req.headers['content-type'];
    const decoded = contentType?.includes('protobuf')
      ? (ExportRequest.toObject(ExportRequest.decode(body), { longs: String, bytes: Buffer }) as { resourceSpans?: unknown[] })
      : (JSON.parse(body.toString('utf8')) as { resourceSpans?: unknown[] });
    requests.push({ contentType, headers: req.headers, spans: spansOf(decoded) });
    res
      .writeHead(200, { 'content-type': contentType ?? 'application/json' })
      .end(contentType?.includes('protobuf') ? Buffer.alloc(0) : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/v1/traces`,
    base,
    requests,
    get tokenRequests() {
      return state.tokenRequests;
    },
    spans: () => requests.flatMap((r) => r.spans),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
