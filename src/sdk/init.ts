import {
  context,
  propagation,
  trace,
  ProxyTracerProvider,
  type Attributes,
  type MeterProvider,
  type TracerProvider,
} from '@opentelemetry/api';
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { attempt, remaining, settlesWithin } from '../base/deadline.js';
import { log } from '../base/diag.js';
import { sharedState } from '../base/state.js';
import {
  booleanOption,
  keyringOption,
  optionNames,
  optionsObject,
  pathPrefixesOption,
  samplerOption,
  stringOption,
} from '../policy/options.js';
import type { SigningKeyOption } from '../policy/signing.js';
import type { SessionPropagatorOptions } from '../propagator/session-propagator.js';
import { isSessionSpanProcessor, SessionSpanProcessor, type SessionSpanProcessorOptions } from '../session/processor.js';
import { installInboundTrust } from '../http/inbound-trust.js';
import { installOutboundGuards } from '../http/outbound-guards.js';
import { createTargetPolicy, type TargetPolicyOptions } from '../http/targets.js';
import { setupMetrics, type MetricsSetup } from './metrics.js';
import { resolveMetricsOptions, type MetricsOptions, type ResolvedMetricsOptions } from './metrics-options.js';
import { agentOpsApiKey, agentOpsToken, exportPipeline, type ExportOptions, type PipelineStats } from './pipeline.js';
import { resolveOtlpProtocol } from './otlp.js';
import { globalPropagator, installGlobalPropagator } from './propagators.js';
import { resolveQueueOptions } from './queue-options.js';
import { buildResource } from './resource.js';

/** Options of `init`. Endpoint, protocol, key and queue options are those of {@link ExportOptions}. */
export interface InitOptions extends ExportOptions {
  /** `service.name` of the resource (default `OTEL_SERVICE_NAME`, then `unknown_service:node`). */
  serviceName?: string;
  /** Resource attributes over the detected ones and `OTEL_RESOURCE_ATTRIBUTES`. */
  resourceAttributes?: Attributes;
  /** Exporters to send spans to besides the OTLP one, each behind its own bounded queue. */
  exporters?: SpanExporter[];
  /** The sampler of init's provider (default from `OTEL_TRACES_SAMPLER` / `_ARG`, else parent-based always-on). */
  sampler?: Sampler;
  /** Signs outbound session entries and requires signed inbound ones (default `AGENTOPS_SIGNING_KEY`). */
  signingKey?: SigningKeyOption;
  /** Options of the globally registered propagator (which `OTEL_PROPAGATORS` may narrow). */
  propagator?: SessionPropagatorOptions;
  /** Emit the session entry on every outgoing inject, not only on this library's hops (default false). */
  globalSessionBaggage?: boolean;
  /**
   * Treat the session entry the global propagator's `extract` delivers as vetted (default false).
   * For a process with no public ingress (a queue worker running bullmq-otel or the stock kafkajs
   * instrumentation beside this library): their spans then get `session.id`. Without it such
   * spans stay in the session's trace but are not stamped. No signature is checked on that path.
   */
  vetGlobalExtract?: boolean;
  /** Options of the session span processor. */
  sessionProcessor?: SessionSpanProcessorOptions;
  /**
   * The HTTP target policy every outgoing node:http/https, undici and fetch request is held to,
   * whoever makes it (default: internal destinations only). To a denied destination no header
   * carrying the session's trace id and none of this library's baggage members go out.
   */
  httpTargets?: TargetPolicyOptions;
  /**
   * Request paths (prefixes, by whole segments) whose callers the global `extract` never trusts,
   * whatever their address: public routes behind a reverse proxy, where every caller looks
   * private. instrumentation-http's SERVER span starts before any route option is read; on these
   * paths it starts a fresh trace (the library's hop adopts it and links the caller).
   */
  publicPathPrefixes?: readonly string[];
  /**
   * Metrics: exporters (OTLP, a Prometheus endpoint, the console; default from
   * `OTEL_METRICS_EXPORTER`), readers of the application's own, the LLM price table and the
   * cardinality limit. Beside an application's own MeterProvider none is created.
   */
  metrics?: MetricsOptions;
}

/** Counters of the export pipeline `init` built. */
export interface InitStats extends PipelineStats {
  /** Spans accepted by exporters. */
  spansExported: number;
  /** Spans lost: queue full, export failed or timed out, or still held when shutdown's deadline passed. */
  spansDropped: number;
  /** Spans waiting to be exported or in an export not yet answered. */
  spansQueued: number;
  /** AgentOps token exchanges that succeeded. */
  tokenRenewals: number;
  /** AgentOps token exchanges that failed (logged, never thrown). */
  tokenFailures: number;
  /** Inbound contexts refused by trust or signature checks. */
  inboundRefused: number;
}

/** What `init` returns. */
export interface InitHandle {
  /** True when `init` created (and so owns) the tracer provider. */
  readonly ownsProvider: boolean;
  /** The provider spans go to (ours or the application's). */
  readonly tracerProvider: TracerProvider;
  /** The provider measurements go to: init's, the application's, or undefined when metrics are off (`OTEL_METRICS_EXPORTER=none`). */
  readonly meterProvider: MeterProvider | undefined;
  /** Exports everything queued, spans and measurements; resolves within the export timeout whatever the exporters do, never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes and shuts down what `init` created (never a provider it did not), spans and metrics within the one export timeout; never rejects. */
  shutdown(): Promise<void>;
  /** Export counters. */
  stats(): InitStats;
}

function userProvider(): TracerProvider | undefined {
  const global = trace.getTracerProvider();
  const delegate = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  return delegate.constructor?.name === 'NoopTracerProvider' ? undefined : delegate;
}

function providerHasSessionProcessor(provider: TracerProvider): boolean {
  // SDK 2.x keeps processors private; look, and assume the worst when the shape is unknown.
  const multi = (provider as unknown as { _activeSpanProcessor?: { _spanProcessors?: unknown[] } })._activeSpanProcessor;
  return Array.isArray(multi?._spanProcessors) && multi._spanProcessors.some(isSessionSpanProcessor);
}

function resetState(): void {
  const state = sharedState();
  state.handle = undefined;
  state.signing = undefined;
  state.globalSessionBaggage = false;
  state.parentBasedProvider = undefined;
}

/**
 * Whether the sampler init's provider builds records nothing under an unsampled remote parent:
 * the SDK's default and every `OTEL_TRACES_SAMPLER` value but `always_on` and `traceidratio`
 * (the `parentbased_*` ones follow the parent, `always_off` records nothing, an unknown value
 * falls back to the default). A sampler passed to init may decide anything.
 */
function followsUnsampledParents(sampler: Sampler | undefined, env: NodeJS.ProcessEnv): boolean {
  if (sampler !== undefined) return false;
  const name = env.OTEL_TRACES_SAMPLER; // read untrimmed, as the SDK does
  return name !== 'always_on' && name !== 'traceidratio';
}

/**
 * The export options given to `init` itself (its `exporters`, `otlpEndpoint`, `apiKey`) that it
 * cannot attach to a provider it did not create: SDK 2.x adds no processors to an existing
 * provider. Named in a warning, so that nothing is dropped silently. Environment variables are
 * not counted: beside an application's provider they configure its exporters and
 * `agentOpsSpanProcessors()`.
 */
function unattachedExports(o: InitOptions): string[] {
  const names = (o.exporters ?? []).map((e) => (e as object).constructor?.name ?? 'SpanExporter');
  const endpoint = stringOption(o.otlpEndpoint, 'init otlpEndpoint');
  if (endpoint !== undefined && endpoint !== '') names.push(`OTLP to ${endpoint}`);
  else if (stringOption(o.apiKey, 'init apiKey') !== undefined) names.push('AgentOps');
  return names;
}

function warnUnattached(existing: TracerProvider, o: InitOptions): void {
  const names = unattachedExports(o);
  if (names.length === 0) return;
  const owner = existing.constructor?.name ?? 'TracerProvider';
  const hook =
    owner === 'SentryTracerProvider'
      ? ' (Sentry 10: Sentry.init({ openTelemetrySpanProcessors: agentOpsSpanProcessors({ exporters }) }); Sentry 11: leave enableOpenTelemetrySetup off)'
      : '';
  log.warn(
    `init: a ${owner} is already registered and init cannot add processors to it: ${names.join(', ')} get no spans. ` +
      `Put agentOpsSpanProcessors({ exporters }) into that provider's span processors${hook}, then call init()`,
  );
}

/** Beside an application's provider: only the propagator is ours, and the flush is the provider's, under our deadline. */
function join(
  existing: TracerProvider,
  o: InitOptions,
  deadlineMillis: number,
  meters: MetricsSetup,
  uninstallGuards: () => void,
): InitHandle {
  installGlobalPropagator(globalPropagator(o.propagator));
  if (!providerHasSessionProcessor(existing)) {
    log.warn(
      'a TracerProvider is already registered without SessionSpanProcessor: add ...agentOpsSpanProcessors() (or new SessionSpanProcessor()) to its spanProcessors so spans get session.id',
    );
  }
  const flush = (existing as { forceFlush?: () => Promise<void> }).forceFlush?.bind(existing);
  return {
    ownsProvider: false,
    tracerProvider: existing,
    meterProvider: meters.meterProvider,
    forceFlush: async () => {
      const deadline = Date.now() + deadlineMillis;
      await Promise.all([
        settlesWithin(
          attempt('forceFlush of the tracer provider failed', () => flush?.()),
          deadlineMillis,
        ),
        meters.flushUntil(deadline),
      ]);
    },
    shutdown: async () => {
      await meters.shutdownUntil(Date.now() + deadlineMillis);
      uninstallGuards();
      resetState();
    },
    stats: () => ({
      spansExported: 0,
      spansDropped: 0,
      spansQueued: 0,
      tokenRenewals: 0,
      tokenFailures: 0,
      inboundRefused: sharedState().counters.droppedInbound,
    }),
  };
}

/** Every option name of {@link InitOptions}: any other key is a misspelling. */
const INIT_OPTIONS = optionNames<InitOptions>({
  serviceName: true,
  resourceAttributes: true,
  exporters: true,
  sampler: true,
  signingKey: true,
  propagator: true,
  globalSessionBaggage: true,
  vetGlobalExtract: true,
  sessionProcessor: true,
  httpTargets: true,
  publicPathPrefixes: true,
  otlpEndpoint: true,
  otlpProtocol: true,
  apiKey: true,
  apiEndpoint: true,
  tokenLifetimeMillis: true,
  exportQueue: true,
  metrics: true,
});

/**
 * Sets up tracing for a service: the session propagator globally, a tracer provider with the
 * resource from the OTel environment, the session span processor and bounded export queues.
 * Beside an application's own provider it creates none and only installs the propagator.
 * Configuration errors throw a TypeError naming the option; nothing later throws.
 */
export function init(options: InitOptions = {}): InitHandle {
  const state = sharedState();
  if (state.handle !== undefined) {
    log.warn('init called twice; returning the first handle');
    return state.handle as InitHandle;
  }
  const given = optionsObject(options, 'init options', INIT_OPTIONS) as InitOptions;
  // Vetting what the global extract delivers is a property of the propagator init registers.
  const o: InitOptions = booleanOption(given.vetGlobalExtract, 'init vetGlobalExtract', false)
    ? { ...given, propagator: { ...given.propagator, vetExtractedSession: true } }
    : given;
  const env = process.env;
  const signingKey = o.signingKey ?? env.AGENTOPS_SIGNING_KEY;
  const signing =
    signingKey === ''
      ? undefined
      : (keyringOption(signingKey, o.signingKey !== undefined ? 'init signingKey' : 'AGENTOPS_SIGNING_KEY') ?? undefined);
  const sampler = samplerOption(o.sampler, 'init sampler');
  const serviceName = stringOption(o.serviceName, 'init serviceName');
  const targets = optionsObject(o.httpTargets, 'init httpTargets') as TargetPolicyOptions;
  createTargetPolicy(targets); // validated here, before anything is registered
  const publicPaths = pathPrefixesOption(o.publicPathPrefixes, 'init publicPathPrefixes');
  const installGuards = (): (() => void) => {
    const uninstallOutbound = installOutboundGuards(targets);
    const uninstallInbound = installInboundTrust(publicPaths);
    return () => {
      uninstallOutbound();
      uninstallInbound();
    };
  };

  // The traces' protocol first: an error names the option before a variable metrics share with it.
  resolveOtlpProtocol(o.otlpProtocol, env);
  const deadlineMillis = resolveQueueOptions(o.exportQueue, 'init exportQueue', env).exportTimeoutMillis;
  const metricsOptions: ResolvedMetricsOptions = resolveMetricsOptions(
    o.metrics,
    {
      apiKey: agentOpsApiKey(o, 'init', env),
      tracesEndpoint: stringOption(o.otlpEndpoint, 'init otlpEndpoint') || env.AGENTOPS_EXPORTER_ENDPOINT,
      deadlineMillis,
    },
    env,
  );
  const resource = buildResource(serviceName, o.resourceAttributes);

  const existing = userProvider();
  if (existing !== undefined) {
    const meters = setupMetrics(
      metricsOptions,
      resource,
      metricsOptions.exporters.includes('otlp') ? agentOpsToken(o, 'init', env) : undefined,
    );
    warnUnattached(existing, o);
    const handle = join(existing, o, deadlineMillis, meters, installGuards());
    state.signing = signing;
    state.globalSessionBaggage = o.globalSessionBaggage === true;
    state.handle = handle;
    return handle;
  }

  const pipeline = exportPipeline(o, 'init', o.exporters ?? [], env);
  if (pipeline.queues.length === 0) log.info('init: no exporter configured; spans are processed but not exported');
  const processors: SpanProcessor[] = [new SessionSpanProcessor(o.sessionProcessor), ...pipeline.queues];
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: processors,
    ...(sampler !== undefined ? { sampler } : {}),
  });
  state.signing = signing;
  state.globalSessionBaggage = o.globalSessionBaggage === true;
  state.parentBasedProvider = followsUnsampledParents(sampler, env) ? provider : undefined;
  // Ours, per OTEL_PROPAGATORS, instead of the provider's default W3C pair.
  provider.register({ propagator: null });
  installGlobalPropagator(globalPropagator(o.propagator, env));
  const uninstallGuards = installGuards();
  const meters = setupMetrics(metricsOptions, resource, pipeline.token);

  let shutDown: Promise<void> | undefined;
  const handle: InitHandle = {
    ownsProvider: true,
    tracerProvider: provider,
    meterProvider: meters.meterProvider,
    forceFlush: async () => {
      const deadline = Date.now() + pipeline.deadlineMillis;
      await Promise.all([pipeline.flushUntil(deadline), meters.flushUntil(deadline)]);
    },
    shutdown: () =>
      (shutDown ??= (async () => {
        const deadline = Date.now() + pipeline.deadlineMillis;
        await Promise.all([pipeline.shutdownUntil(deadline), meters.shutdownUntil(deadline)]);
        // The provider's own shutdown reaches our queues again (already done) and the session
        // processor; it gets what is left of the deadline, not a timeout of its own.
        await settlesWithin(
          attempt('shutdown of the tracer provider failed', () => provider.shutdown()),
          remaining(deadline),
        );
        // Unregister so that a later init (or the application's own setup) starts clean.
        trace.disable();
        propagation.disable();
        context.disable();
        uninstallGuards();
        resetState();
      })()),
    stats: () => ({ ...pipeline.stats(), inboundRefused: state.counters.droppedInbound }),
  };
  state.handle = handle;
  return handle;
}
