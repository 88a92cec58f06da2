/**
 * The export side that `init` and `agentOpsSpanProcessors` share: the OTLP exporter (AgentOps'
 * endpoint and token when a key is set) and the user's exporters, each behind its own queue, and
 * one flush and shutdown for all of them under one deadline.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { optionsObject, positiveIntegerOption, stringOption } from '../policy/options.js';
import { CountingExportQueue, type ExportQueueOptions } from './export-queue.js';
import {
  AGENTOPS_API_ENDPOINT,
  AGENTOPS_OTLP_ENDPOINT,
  otlpExporter,
  resolveOtlpEndpoint,
  resolveOtlpProtocol,
  type OtlpProtocol,
} from './otlp.js';
import { resolveQueueOptions } from './queue-options.js';
import { AgentOpsToken } from './token.js';

/** Where and how spans are exported. */
export interface ExportOptions {
  /** OTLP/HTTP traces URL (default `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, then `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, then `AGENTOPS_EXPORTER_ENDPOINT`; AgentOps' own when only a key is set). */
  otlpEndpoint?: string;
  /** OTLP encoding (default `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`, then `'http/protobuf'`). */
  otlpProtocol?: OtlpProtocol;
  /** AgentOps API key (default `AGENTOPS_API_KEY`), exchanged for a bearer token sent on every OTLP export. */
  apiKey?: string;
  /** AgentOps API base URL for the token exchange (default `AGENTOPS_API_ENDPOINT`, then https://api.agentops.ai). */
  apiEndpoint?: string;
  /** Lifetime assumed for an AgentOps token that is not a JWT with `exp`, in ms (default 3600000). */
  tokenLifetimeMillis?: number;
  /** Export queue tuning, for every exporter. */
  exportQueue?: ExportQueueOptions;
}

/** Counters of an export pipeline. */
export interface PipelineStats {
  spansExported: number;
  spansDropped: number;
  spansQueued: number;
  tokenRenewals: number;
  tokenFailures: number;
}

export interface ExportPipeline {
  readonly queues: CountingExportQueue[];
  /** The one deadline of a flush or shutdown, in ms (the export timeout). */
  readonly deadlineMillis: number;
  /** The AgentOps token the OTLP exporter sends (when a key is set); the metric exporter shares it. */
  readonly token: AgentOpsToken | undefined;
  /** Flushes every queue by `deadline`; never rejects. */
  flushUntil(deadline: number): Promise<void>;
  /** Shuts every queue down by `deadline`; never rejects. */
  shutdownUntil(deadline: number): Promise<void>;
  stats(): PipelineStats;
}

/** The AgentOps API key: the option, else `AGENTOPS_API_KEY`. */
export function agentOpsApiKey(o: ExportOptions, where: string, env: NodeJS.ProcessEnv): string | undefined {
  return stringOption(o.apiKey, `${where} apiKey`) ?? env.AGENTOPS_API_KEY;
}

/** The AgentOps token for the configured key (exchanged at `apiEndpoint`), or undefined without a key. */
export function agentOpsToken(o: ExportOptions, where: string, env: NodeJS.ProcessEnv): AgentOpsToken | undefined {
  const apiKey = agentOpsApiKey(o, where, env);
  const lifetime = positiveIntegerOption(o.tokenLifetimeMillis, `${where} tokenLifetimeMillis`, 3_600_000);
  const apiEndpoint = stringOption(o.apiEndpoint, `${where} apiEndpoint`) ?? env.AGENTOPS_API_ENDPOINT ?? AGENTOPS_API_ENDPOINT;
  return apiKey ? new AgentOpsToken(apiKey, apiEndpoint, lifetime) : undefined;
}

/**
 * Builds the pipeline; `extra` exporters come first, the OTLP one (if any endpoint or key) last.
 * `agentOpsOnly`: the OTel endpoint and protocol variables configure the application's own
 * exporter (NodeSDK's), so only the option and `AGENTOPS_EXPORTER_ENDPOINT` are read, and the
 * AgentOps token can never reach the application's collector.
 */
export function exportPipeline(
  raw: ExportOptions,
  where: string,
  extra: SpanExporter[] = [],
  env: NodeJS.ProcessEnv = process.env,
  agentOpsOnly = false,
): ExportPipeline {
  const o = optionsObject(raw, where);
  const queueOptions = resolveQueueOptions(o.exportQueue, `${where} exportQueue`, env);
  const endpointEnv = agentOpsOnly ? { AGENTOPS_EXPORTER_ENDPOINT: env.AGENTOPS_EXPORTER_ENDPOINT } : env;
  const protocol = resolveOtlpProtocol(o.otlpProtocol, agentOpsOnly ? {} : env);
  const endpoint = resolveOtlpEndpoint(stringOption(o.otlpEndpoint, `${where} otlpEndpoint`), endpointEnv);
  // Validated whether or not a key is set; with a key there is always a URL (AgentOps' own).
  const token = agentOpsToken(o, where, env);
  const url = endpoint ?? (token !== undefined ? AGENTOPS_OTLP_ENDPOINT : undefined);
  const exporters = [...extra];
  if (url !== undefined) exporters.push(otlpExporter(url, protocol, queueOptions.exportTimeoutMillis, token));
  const queues = exporters.map((exporter) => new CountingExportQueue(exporter, queueOptions));
  return {
    queues,
    deadlineMillis: queueOptions.exportTimeoutMillis,
    token,
    flushUntil: async (deadline) => void (await Promise.all(queues.map((q) => q.flushUntil(deadline)))),
    shutdownUntil: async (deadline) => void (await Promise.all(queues.map((q) => q.shutdownUntil(deadline)))),
    stats: () => {
      const totals: PipelineStats = {
        spansExported: 0,
        spansDropped: 0,
        spansQueued: 0,
        tokenRenewals: token?.counts.renewals ?? 0,
        tokenFailures: token?.counts.failures ?? 0,
      };
      for (const queue of queues) {
        const s = queue.stats();
        totals.spansExported += s.exported;
        totals.spansDropped += s.dropped;
        totals.spansQueued += s.queued + s.inFlight;
      }
      return totals;
    },
  };
}
