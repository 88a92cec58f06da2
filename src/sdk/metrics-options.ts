/**
 * `init`'s metrics settings: an option wins, then the OpenTelemetry variable it maps to, then the
 * default. Validated once here (TypeError naming the option or the variable); nothing later checks
 * again.
 */
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { DEFAULT_CARDINALITY_LIMIT, type MetricSettings, type ModelPrice } from '../metrics/settings.js';
import { configError } from '../policy/config-error.js';
import { envPositiveInteger, optionNames, optionsObject, positiveIntegerOption, stringOption } from '../policy/options.js';
import { resolveOtlpProtocol, type OtlpProtocol } from './otlp.js';
import { AGENTOPS_OTLP_METRICS_ENDPOINT, type TemporalityPreference } from './otlp-metrics.js';

export type { ModelPrice } from '../metrics/settings.js';
export type { TemporalityPreference } from './otlp-metrics.js';

/** Where measurements go, as `OTEL_METRICS_EXPORTER` names them. */
export type MetricExporterName = 'otlp' | 'prometheus' | 'console' | 'none';

/** Options of `init`'s metrics. */
export interface MetricsOptions {
  /**
   * Exporters (default `OTEL_METRICS_EXPORTER`, comma-separated; unset: `['otlp']` when an OTLP
   * endpoint or an AgentOps key is configured, else none). `[]` or `['none']`: none.
   */
  exporters?: readonly MetricExporterName[];
  /** OTLP/HTTP metrics URL (default `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, then `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`, then the traces URL's `/v1/traces` turned into `/v1/metrics`, then AgentOps' own when a key is set). */
  otlpEndpoint?: string;
  /** OTLP encoding (default `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`, then `'http/protobuf'`). */
  otlpProtocol?: OtlpProtocol;
  /** Temporality the OTLP exporter asks for (default `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, then `'cumulative'`). */
  temporality?: TemporalityPreference;
  /** Interval between two OTLP or console exports, in ms (default `OTEL_METRIC_EXPORT_INTERVAL`, then 60000). */
  exportIntervalMillis?: number;
  /** Interface the Prometheus endpoint listens on (default `OTEL_EXPORTER_PROMETHEUS_HOST`, then `127.0.0.1`: loopback only). */
  prometheusHost?: string;
  /** Port of the Prometheus endpoint, served at `/metrics` (default `OTEL_EXPORTER_PROMETHEUS_PORT`, then 9464). */
  prometheusPort?: number;
  /** Metric readers of the application's own, beside the exporters (an OTLP/gRPC one, an in-memory one in tests). */
  readers?: readonly MetricReader[];
  /** LLM prices by model name, in US dollars per million tokens (default none: every call is counted as unpriced). */
  prices?: Readonly<Record<string, ModelPrice>>;
  /** Distinct entity, session, model, error and destination names each instrument keeps before recording `_OTHER` (default 100). */
  cardinalityLimit?: number;
}

/** Every option name of {@link MetricsOptions}. */
const METRICS_OPTIONS = optionNames<MetricsOptions>({
  exporters: true,
  otlpEndpoint: true,
  otlpProtocol: true,
  temporality: true,
  exportIntervalMillis: true,
  prometheusHost: true,
  prometheusPort: true,
  readers: true,
  prices: true,
  cardinalityLimit: true,
});

const EXPORTER_NAMES: readonly string[] = ['otlp', 'prometheus', 'console', 'none'];
const TEMPORALITIES: readonly string[] = ['cumulative', 'delta', 'lowmemory'];
const PRICE_FIELDS = optionNames<ModelPrice>({ input: true, output: true, cachedInput: true });

/** Validated metrics settings. */
export interface ResolvedMetricsOptions {
  /** Exporters to build, without duplicates and without `none`. */
  exporters: readonly ('otlp' | 'prometheus' | 'console')[];
  /** OTLP URL; set whenever `exporters` has `otlp`. */
  otlpEndpoint: string | undefined;
  otlpProtocol: OtlpProtocol;
  temporality: TemporalityPreference;
  exportIntervalMillis: number;
  /** Timeout of one export: `OTEL_METRIC_EXPORT_TIMEOUT` (30000 by default), at most the interval and init's one deadline. */
  exportTimeoutMillis: number;
  prometheusHost: string;
  prometheusPort: number;
  readers: readonly MetricReader[];
  settings: MetricSettings;
}

/** What the rest of `init` already resolved that the metrics defaults depend on. */
export interface MetricsContext {
  /** The AgentOps API key, if any. */
  apiKey: string | undefined;
  /** The traces URL init's own option or `AGENTOPS_EXPORTER_ENDPOINT` named, if any. */
  tracesEndpoint: string | undefined;
  /** init's one deadline of a flush or shutdown (the export timeout), in ms: an export's retries end by then. */
  deadlineMillis: number;
}

function exporterList(value: unknown, where: string): string[] {
  const names =
    typeof value === 'string'
      ? value.split(',').map((n) => n.trim().toLowerCase())
      : Array.isArray(value)
        ? value.map((n: unknown) => (typeof n === 'string' ? n : configError(where, `must list exporter names, got ${String(n)}`)))
        : configError(where, 'must be an array of exporter names');
  const listed = names.filter((n) => n !== '');
  for (const name of listed) {
    if (!EXPORTER_NAMES.includes(name)) configError(where, `names an unknown exporter "${name}"; known: ${EXPORTER_NAMES.join(', ')}`);
  }
  return listed;
}

function nonNegative(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) configError(where, 'must be a finite number >= 0');
  return value;
}

function priceTable(value: unknown, where: string): Map<string, Readonly<ModelPrice>> {
  const table = optionsObject(value, where);
  const prices = new Map<string, Readonly<ModelPrice>>();
  for (const [model, raw] of Object.entries(table)) {
    const at = `${where}["${model}"]`;
    const p = optionsObject(raw, at, PRICE_FIELDS);
    const price: ModelPrice = { input: nonNegative(p.input, `${at}.input`), output: nonNegative(p.output, `${at}.output`) };
    if (p.cachedInput !== undefined) price.cachedInput = nonNegative(p.cachedInput, `${at}.cachedInput`);
    prices.set(model, Object.freeze(price));
  }
  return prices;
}

/** The metrics URL the OTel variables, then the traces URL, then an AgentOps key give. */
function defaultEndpoint(env: NodeJS.ProcessEnv, context: MetricsContext): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) return env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/metrics`;
  const traces = context.tracesEndpoint?.replace(/\/+$/, '');
  if (traces?.endsWith('/v1/traces')) return `${traces.slice(0, -'/v1/traces'.length)}/v1/metrics`;
  return context.apiKey ? AGENTOPS_OTLP_METRICS_ENDPOINT : undefined;
}

function temporalityOf(option: unknown, env: NodeJS.ProcessEnv): TemporalityPreference {
  if (option !== undefined) {
    if (!TEMPORALITIES.includes(option as string))
      configError('init metrics.temporality', `must be 'cumulative' | 'delta' | 'lowmemory', got ${String(option)}`);
    return option as TemporalityPreference;
  }
  const raw = env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE?.trim().toLowerCase();
  if (raw === undefined || raw === '') return 'cumulative';
  if (!TEMPORALITIES.includes(raw)) {
    configError('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', `must be cumulative | delta | lowmemory, got ${raw}`);
  }
  return raw as TemporalityPreference;
}

function portOf(option: unknown, env: NodeJS.ProcessEnv): number {
  const fromEnv = envPositiveInteger(env.OTEL_EXPORTER_PROMETHEUS_PORT, 'OTEL_EXPORTER_PROMETHEUS_PORT', 9464);
  const port = positiveIntegerOption(option, 'init metrics.prometheusPort', fromEnv);
  if (port > 65535)
    configError(option !== undefined ? 'init metrics.prometheusPort' : 'OTEL_EXPORTER_PROMETHEUS_PORT', 'must be a port (1-65535)');
  return port;
}

/** Validates `init`'s metrics options against the environment. */
export function resolveMetricsOptions(raw: unknown, context: MetricsContext, env: NodeJS.ProcessEnv = process.env): ResolvedMetricsOptions {
  const o = optionsObject(raw, 'init metrics', METRICS_OPTIONS);
  const endpointOption = stringOption(o.otlpEndpoint, 'init metrics.otlpEndpoint');
  const endpoint = endpointOption || defaultEndpoint(env, context);
  const named =
    o.exporters !== undefined
      ? exporterList(o.exporters, 'init metrics.exporters')
      : env.OTEL_METRICS_EXPORTER !== undefined && env.OTEL_METRICS_EXPORTER.trim() !== ''
        ? exporterList(env.OTEL_METRICS_EXPORTER, 'OTEL_METRICS_EXPORTER')
        : endpoint !== undefined
          ? ['otlp']
          : [];
  const exporters = [...new Set(named.filter((n) => n !== 'none'))] as ('otlp' | 'prometheus' | 'console')[];
  if (exporters.includes('otlp') && endpoint === undefined) {
    configError(
      o.exporters !== undefined ? 'init metrics.exporters' : 'OTEL_METRICS_EXPORTER',
      "names 'otlp' but no endpoint is configured (metrics.otlpEndpoint, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or an AgentOps key)",
    );
  }
  const interval = positiveIntegerOption(
    o.exportIntervalMillis,
    'init metrics.exportIntervalMillis',
    envPositiveInteger(env.OTEL_METRIC_EXPORT_INTERVAL, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000),
  );
  const timeout = envPositiveInteger(env.OTEL_METRIC_EXPORT_TIMEOUT, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000);
  if (o.readers !== undefined && !Array.isArray(o.readers)) configError('init metrics.readers', 'must be an array of MetricReaders');
  const readers = (o.readers ?? []) as unknown[];
  readers.forEach((reader, i) => {
    if (typeof reader !== 'object' || reader === null || typeof (reader as { collect?: unknown }).collect !== 'function') {
      configError(`init metrics.readers[${i}]`, 'must be a MetricReader (from @opentelemetry/sdk-metrics)');
    }
  });
  return {
    exporters,
    otlpEndpoint: exporters.includes('otlp') ? endpoint : undefined,
    otlpProtocol: resolveOtlpProtocol(o.otlpProtocol, env, 'metrics', 'init metrics.otlpProtocol'),
    temporality: temporalityOf(o.temporality, env),
    exportIntervalMillis: interval,
    exportTimeoutMillis: Math.min(timeout, interval, context.deadlineMillis),
    prometheusHost: stringOption(o.prometheusHost, 'init metrics.prometheusHost') || env.OTEL_EXPORTER_PROMETHEUS_HOST || '127.0.0.1',
    prometheusPort: portOf(o.prometheusPort, env),
    readers: readers as MetricReader[],
    settings: {
      prices: priceTable(o.prices, 'init metrics.prices'),
      cardinalityLimit: positiveIntegerOption(o.cardinalityLimit, 'init metrics.cardinalityLimit', DEFAULT_CARDINALITY_LIMIT),
    },
  };
}
