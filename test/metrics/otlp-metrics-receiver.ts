// A real OTLP/HTTP metrics receiver for the tests: it decodes what the exporter sent, protobuf
// with protobufjs over the message definitions of opentelemetry-proto (field numbers as in
// metrics.proto, common.proto and resource.proto; fields the tests do not read are left out,
// which protobuf decoding skips), JSON with JSON.parse. It answers `POST /v1/metrics` only.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { attributes, type RawKeyValue } from '../helpers/otlp-values.js';

const METRICS_PROTO = `
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
message NumberDataPoint {
  fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  repeated KeyValue attributes = 7;
}
message HistogramDataPoint {
  fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3; fixed64 count = 4; optional double sum = 5;
  repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7; repeated KeyValue attributes = 9;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }
}
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
`;

const ExportRequest = protobuf.parse(METRICS_PROTO, { keepCase: false }).root.lookupType('opentelemetry.proto.ExportMetricsServiceRequest');

/** One data point as received, in one shape for both encodings and every metric type. */
export interface ReceivedPoint {
  metric: string;
  unit: string;
  /** 'sum', 'gauge' or 'histogram'. */
  type: string;
  /** OTLP AggregationTemporality: 1 delta, 2 cumulative (0 for gauges). */
  temporality: number;
  scope: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  /** Sums and gauges. */
  value?: number;
  /** Histograms. */
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  bounds?: number[];
}

/** One POST to /v1/metrics. */
interface ReceivedMetricsRequest {
  contentType: string | undefined;
  headers: IncomingHttpHeaders;
  points: ReceivedPoint[];
}

type RawPoint = {
  attributes?: RawKeyValue[];
  asDouble?: number;
  asInt?: string | number;
  count?: string | number;
  sum?: number;
  bucketCounts?: (string | number)[];
  explicitBounds?: number[];
};
type RawData = { dataPoints?: RawPoint[]; aggregationTemporality?: number };
type RawMetric = { name: string; unit?: string; sum?: RawData; gauge?: RawData; histogram?: RawData };
type RawRequest = {
  resourceMetrics?: {
    resource?: { attributes?: RawKeyValue[] };
    scopeMetrics?: { scope?: { name?: string }; metrics?: RawMetric[] }[];
  }[];
};

/** Points of a decoded request (protobufjs object or OTLP JSON): both use camelCase field names, int64 as strings. */
function pointsOf(request: RawRequest): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    const resource = attributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const type = m.histogram !== undefined ? 'histogram' : m.sum !== undefined ? 'sum' : 'gauge';
        const data = m.histogram ?? m.sum ?? m.gauge ?? {};
        for (const p of data.dataPoints ?? []) {
          const point: ReceivedPoint = {
            metric: m.name,
            unit: m.unit ?? '',
            type,
            temporality: data.aggregationTemporality ?? 0,
            scope: sm.scope?.name ?? '',
            attributes: attributes(p.attributes),
            resource,
          };
          if (type === 'histogram') {
            point.count = Number(p.count ?? 0);
            point.sum = p.sum;
            point.bucketCounts = (p.bucketCounts ?? []).map(Number);
            point.bounds = p.explicitBounds ?? [];
          } else {
            point.value = p.asInt !== undefined ? Number(p.asInt) : (p.asDouble ?? 0);
          }
          out.push(point);
        }
      }
    }
  }
  return out;
}

export interface MetricsReceiver {
  /** The `/v1/metrics` URL. */
  url: string;
  /** Scheme, host and port. */
  base: string;
  /** API keys the token exchange received. */
  tokenRequests: unknown[];
  requests: ReceivedMetricsRequest[];
  points(): ReceivedPoint[];
  close(): Promise<void>;
}

/** Starts the receiver on a loopback port. */
export async function otlpMetricsReceiver(): Promise<MetricsReceiver> {
  const requests: ReceivedMetricsRequest[] = [];
  const tokenRequests: unknown[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (req.url === '/v3/auth/token' && req.method === 'POST') {
      tokenRequests.push(JSON.parse(body.toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${tokenRequests.length}` }));
      return;
    }
    if (req.url !== '/v1/metrics' || req.method !== 'POST') return void res.writeHead(404).end();
    const contentType = req.headers['content-type'];
    const protobufBody = contentType?.includes('protobuf') === true;
    const decoded = protobufBody
      ? (ExportRequest.toObject(ExportRequest.decode(body), { longs: String, bytes: Buffer }) as RawRequest)
      : (JSON.parse(body.toString('utf8')) as RawRequest);
    requests.push({ contentType, headers: req.headers, points: pointsOf(decoded) });
    res.writeHead(200, { 'content-type': contentType ?? 'application/json' }).end(protobufBody ? Buffer.alloc(0) : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/v1/metrics`,
    base,
    tokenRequests,
    requests,
    points: () => requests.flatMap((r) => r.points),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
