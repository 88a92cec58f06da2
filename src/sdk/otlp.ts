/**
 * Where spans go and how: the OTLP traces URL and protocol from options and the OTel
 * environment, and the OTLP exporter built from them (AgentOps' endpoint when only a key is set).
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { configError } from '../policy/config-error.js';
import type { AgentOpsToken } from './token.js';

export const AGENTOPS_OTLP_ENDPOINT = 'https://otlp.agentops.ai/v1/traces';
export const AGENTOPS_API_ENDPOINT = 'https://api.agentops.ai';

/** OTLP encodings over HTTP; `http/protobuf` is the OpenTelemetry default and what AgentOps' SDK sends. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

/** Resolves the OTLP traces URL: option, then the OTel variables, then AgentOps'. */
export function resolveOtlpEndpoint(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (option) return option;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  if (env.AGENTOPS_EXPORTER_ENDPOINT) return env.AGENTOPS_EXPORTER_ENDPOINT;
  return undefined;
}

/**
 * Resolves the protocol of a signal's exporter: option (named `where`), then
 * `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`, then
 * `http/protobuf`. `grpc` and anything else throw naming their source: sending HTTP to a gRPC
 * port would lose everything quietly.
 */
export function resolveOtlpProtocol(
  option: unknown,
  env: NodeJS.ProcessEnv = process.env,
  signal: 'traces' | 'metrics' = 'traces',
  where = 'init otlpProtocol',
): OtlpProtocol {
  const signalVariable = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_PROTOCOL`;
  const sources: [unknown, string][] = [
    [option, where],
    [env[signalVariable], signalVariable],
    [env.OTEL_EXPORTER_OTLP_PROTOCOL, 'OTEL_EXPORTER_OTLP_PROTOCOL'],
  ];
  for (const [value, source] of sources) {
    if (value === undefined || value === '') continue;
    const v = typeof value === 'string' ? value.trim() : value;
    if (typeof v === 'string' && PROTOCOLS.includes(v)) return v as OtlpProtocol;
    const hint =
      v === 'grpc'
        ? ` (grpc is not built in: pass an exporter from @opentelemetry/exporter-${signal === 'traces' ? 'trace' : 'metrics'}-otlp-grpc in \`${signal === 'traces' ? 'exporters' : 'metrics.readers'}\`)`
        : '';
    configError(source, `must be 'http/protobuf' | 'http/json', got ${String(value)}${hint}`);
  }
  return 'http/protobuf';
}

/**
 * An OTLP/HTTP exporter. Its own timeout is the queue's export timeout, so that its retries end
 * when the queue stops waiting. `OTEL_EXPORTER_OTLP_HEADERS` and `_TRACES_HEADERS` are read by
 * the exporter itself and merged with the AgentOps authorization.
 */
export function otlpExporter(url: string, protocol: OtlpProtocol, timeoutMillis: number, token: AgentOpsToken | undefined): SpanExporter {
  const config = { url, timeoutMillis, ...(token ? { headers: () => token.headers() } : {}) };
  const inner = protocol === 'http/json' ? new OTLPJsonExporter(config) : new OTLPProtoExporter(config);
  return token === undefined ? inner : new RenewingExporter(inner, token);
}

function refusedAuth(result: ExportResult): boolean {
  const code = (result.error as { code?: unknown } | undefined)?.code;
  return result.code === ExportResultCode.FAILED && (code === 401 || code === 403);
}

/** Renews the AgentOps token when the backend refuses it, and sends the batch once more with the new one. */
class RenewingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly token: AgentOpsToken,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (!refusedAuth(result)) return done(result);
      this.token.refused();
      this.inner.export(spans, (again) => {
        if (refusedAuth(again)) this.token.refused();
        done(again);
      });
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
