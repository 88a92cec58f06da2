/**
 * The tracing setups every scenario compares, built identically wherever they are used:
 *
 * - `ours`: `init({ exporters: [noop] })`: our provider, SessionSpanProcessor and our
 *   CountingExportQueue in front of the no-op exporter (optionally with a signing key);
 * - `sdk`: a NodeTracerProvider with the SDK's BatchSpanProcessor in front of the same no-op
 *   exporter, registered with its defaults (AsyncLocalStorage context manager, W3C trace context
 *   + baggage composite propagator, parent-based always-on sampler), as the contrib
 *   instrumentations' docs set it up; the hand-written references use it too.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** The key the signed rows use on both sides (callers' entries and the server's init). */
export const BENCH_SIGNING_KEY = 'bench-signing-key-0123456789abcdef0123456789';

/** Accepts every batch at once and keeps nothing: the exporter's cost is not what we measure. */
export class NoopExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.exported += spans.length;
    resultCallback({ code: ExportResultCode.SUCCESS });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A started tracing setup. */
export interface Tracing {
  /** Which span processor feeds the exporter, for the report. */
  processor: string;
  /** Spans that reached the no-op exporter so far. */
  exported(): number;
  /** Exports what is queued. */
  flush(): Promise<void>;
  /** Flushes and unregisters. */
  shutdown(): Promise<void>;
}

/** Options of {@link oursTracing}. */
export interface OursTracingOptions {
  /** Add the bench's signing key (default false). */
  signed?: boolean;
  /** Metrics on: a collecting MetricReader (in-memory exporter, collected once a minute) (default false: no MeterProvider). */
  metrics?: boolean;
}

/**
 * Our setup: `init` with the no-op exporter; `signed` adds the bench's signing key, `metrics` a
 * collecting metric reader. Imported here, not at the top, so that the other configurations'
 * processes never load the library.
 */
export async function oursTracing(options: OursTracingOptions = {}): Promise<Tracing> {
  const { init } = await import('agentops-propagation');
  const exporter = new NoopExporter();
  const readers = options.metrics === true ? [await collectingReader()] : undefined;
  const handle = init({
    serviceName: 'bench',
    exporters: [exporter],
    ...(options.signed === true ? { signingKey: BENCH_SIGNING_KEY } : {}),
    ...(readers !== undefined ? { metrics: { readers } } : {}),
  });
  return {
    processor: `SessionSpanProcessor + CountingExportQueue (init)${readers !== undefined ? ' + a collecting MetricReader' : ''}`,
    exported: () => exporter.exported,
    flush: () => handle.forceFlush(),
    shutdown: () => handle.shutdown(),
  };
}

/** A MetricReader that aggregates everything recorded and exports to memory once a minute. */
async function collectingReader() {
  const { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  return new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 60_000,
  });
}

/** The SDK setup of the contrib instrumentations and the references. */
export function sdkTracing(): Tracing {
  const exporter = new NoopExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register();
  return {
    processor: 'BatchSpanProcessor (SDK)',
    exported: () => exporter.exported,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
