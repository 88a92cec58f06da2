/**
 * The tracing setups every scenario compares, built identically wherever they are used:
 *
 * - `ours`: `init({ exporters: [noop] })`: our provider, SessionSpanProcessor and our
 *   CountingExportQueue (a BatchSpanProcessor-like bounded queue) in front of the no-op exporter;
 * - `contrib`: a NodeTracerProvider with the SDK's BatchSpanProcessor in front of the same no-op
 *   exporter, registered with its defaults (AsyncLocalStorage context manager, W3C trace context
 *   + baggage composite propagator), as the contrib instrumentations' docs set it up.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { InitHandle } from '../../src/index.js';
import { lib } from './build.js';

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

/** Our setup: `init` (of the built library) with the no-op exporter. */
export async function oursTracing(): Promise<Tracing> {
  const { init } = await lib('index');
  const exporter = new NoopExporter();
  const handle: InitHandle = init({ serviceName: 'bench', exporters: [exporter] });
  return {
    processor: 'SessionSpanProcessor + CountingExportQueue (init)',
    exported: () => exporter.exported,
    flush: () => handle.forceFlush(),
    shutdown: () => handle.shutdown(),
  };
}

/** The contrib setup: the SDK's provider and BatchSpanProcessor with the no-op exporter. */
export function contribTracing(): Tracing & { provider: NodeTracerProvider } {
  const exporter = new NoopExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register();
  return {
    provider,
    processor: 'BatchSpanProcessor (SDK)',
    exported: () => exporter.exported,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
