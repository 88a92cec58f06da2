/**
 * The OTLP/HTTP metric exporter `init` builds: the exporter packages' 0.2xx line (the one that
 * runs on Node 20 with SDK 2.x), the AgentOps token on every export when a key is set, renewed and
 * the export sent once more when the backend refuses it (as for spans, otlp.ts).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporalityPreference, OTLPMetricExporter as OTLPJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { OtlpProtocol } from './otlp.js';
import type { AgentOpsToken } from './token.js';

/** AgentOps' own OTLP metrics endpoint (its SDK's default). */
export const AGENTOPS_OTLP_METRICS_ENDPOINT = 'https://otlp.agentops.ai/v1/metrics';

/** The temporality an OTLP exporter asks the reader for, as `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` names it. */
export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';

const PREFERENCE: Record<TemporalityPreference, AggregationTemporalityPreference> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

function refusedAuth(result: ExportResult): boolean {
  const code = (result.error as { code?: unknown } | undefined)?.code;
  return result.code === ExportResultCode.FAILED && (code === 401 || code === 403);
}

/** Renews the AgentOps token when the backend refuses it, and sends the measurements once more with the new one. */
class RenewingMetricExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly token: AgentOpsToken,
  ) {}

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      if (!refusedAuth(result)) return done(result);
      this.token.refused();
      this.inner.export(metrics, (again) => {
        if (refusedAuth(again)) this.token.refused();
        done(again);
      });
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return (this.inner.selectAggregationTemporality as (t: InstrumentType) => AggregationTemporality)(type);
  }
}

/**
 * An OTLP/HTTP metric exporter. `OTEL_EXPORTER_OTLP_HEADERS` and `_METRICS_HEADERS` are read by
 * the exporter itself and merged with the AgentOps authorization.
 */
export function otlpMetricExporter(
  url: string,
  protocol: OtlpProtocol,
  temporality: TemporalityPreference,
  timeoutMillis: number,
  token: AgentOpsToken | undefined,
): PushMetricExporter {
  const config = {
    url,
    timeoutMillis,
    temporalityPreference: PREFERENCE[temporality],
    ...(token ? { headers: () => token.headers() } : {}),
  };
  const inner = protocol === 'http/json' ? new OTLPJsonMetricExporter(config) : new OTLPProtoMetricExporter(config);
  return token === undefined ? inner : new RenewingMetricExporter(inner, token);
}
