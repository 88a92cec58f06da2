import { context, propagation, trace, ProxyTracerProvider, type Attributes, type TracerProvider } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { log } from '../base/diag.js';
import { CountingExportQueue, type ExportQueueOptions } from './export-queue.js';
import { isSessionSpanProcessor, SessionSpanProcessor, type SessionSpanProcessorOptions } from '../session/processor.js';
import { sessionPropagator, type SessionPropagatorOptions } from '../propagator/session-propagator.js';
import { keyringOption } from '../policy/options.js';
import type { SigningKeyOption } from '../policy/signing.js';
import { sharedState } from '../base/state.js';
import { agentOpsTokenSource, AGENTOPS_API_ENDPOINT, AGENTOPS_OTLP_ENDPOINT, resolveOtlpEndpoint } from './otlp.js';

/** Options of `init`. */
export interface InitOptions {
  /** `service.name` of the resource (default `OTEL_SERVICE_NAME`, then `unknown_service`). */
  serviceName?: string;
  /** Extra resource attributes. */
  resourceAttributes?: Attributes;
  /** Exporters to send spans to, each behind its own bounded queue. */
  exporters?: SpanExporter[];
  /** OTLP/HTTP traces URL; default from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, AGENTOPS_EXPORTER_ENDPOINT. */
  otlpEndpoint?: string;
  /** AgentOps API key (default `AGENTOPS_API_KEY`), exchanged for a bearer token sent on every export. */
  apiKey?: string;
  /** AgentOps API base URL for the token exchange (default `AGENTOPS_API_ENDPOINT`, then https://api.agentops.ai). */
  apiEndpoint?: string;
  /** Signs outbound session entries and requires signed inbound ones (default `AGENTOPS_SIGNING_KEY`). */
  signingKey?: SigningKeyOption;
  /** Options of the globally registered propagator. */
  propagator?: SessionPropagatorOptions;
  /** Emit the session entry on every outgoing inject, not only on this library's hops (default false). */
  globalSessionBaggage?: boolean;
  /** Options of the session span processor. */
  sessionProcessor?: SessionSpanProcessorOptions;
  /** Export queue tuning. */
  exportQueue?: ExportQueueOptions;
}

/** Counters of the export pipeline `init` built. */
export interface InitStats {
  /** Spans accepted by exporters. */
  spansExported: number;
  /** Spans lost (queue full, export failed or timed out). */
  spansDropped: number;
  /** Spans waiting to be exported. */
  spansQueued: number;
  /** Inbound contexts refused by trust or signature checks. */
  inboundRefused: number;
}

/** What `init` returns. */
export interface InitHandle {
  /** True when `init` created (and so owns) the tracer provider. */
  readonly ownsProvider: boolean;
  /** The provider spans go to (ours or the application's). */
  readonly tracerProvider: TracerProvider;
  /** Exports everything queued. */
  forceFlush(): Promise<void>;
  /** Flushes and shuts down what `init` created; never a provider it did not create. */
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

function installPropagator(options: SessionPropagatorOptions | undefined): void {
  propagation.disable();
  propagation.setGlobalPropagator(sessionPropagator(options));
}

/**
 * Sets up tracing for a service: the session propagator globally, a tracer provider with the
 * session span processor and bounded export queues. Beside an application's own provider it
 * creates none and only installs the propagator.
 */
export function init(options: InitOptions = {}): InitHandle {
  const state = sharedState();
  if (state.handle !== undefined) {
    log.warn('init called twice; returning the first handle');
    return state.handle as InitHandle;
  }
  const env = process.env;
  const signingKey = options.signingKey ?? env.AGENTOPS_SIGNING_KEY;
  state.signing =
    signingKey === ''
      ? undefined
      : (keyringOption(signingKey, options.signingKey !== undefined ? 'init signingKey' : 'AGENTOPS_SIGNING_KEY') ?? undefined);
  state.globalSessionBaggage = options.globalSessionBaggage === true;

  const existing = userProvider();
  if (existing !== undefined) {
    installPropagator(options.propagator);
    if (!providerHasSessionProcessor(existing)) {
      log.warn(
        'a TracerProvider is already registered without SessionSpanProcessor: add new SessionSpanProcessor() to its spanProcessors so spans get session.id',
      );
    }
    const handle: InitHandle = {
      ownsProvider: false,
      tracerProvider: existing,
      forceFlush: async () => {
        await (existing as { forceFlush?: () => Promise<void> }).forceFlush?.();
      },
      shutdown: async () => {
        state.handle = undefined;
        state.signing = undefined;
      },
      stats: () => ({ spansExported: 0, spansDropped: 0, spansQueued: 0, inboundRefused: state.counters.droppedInbound }),
    };
    state.handle = handle;
    return handle;
  }

  const exporters: SpanExporter[] = [...(options.exporters ?? [])];
  const endpoint = resolveOtlpEndpoint(options.otlpEndpoint, env);
  const apiKey = options.apiKey ?? env.AGENTOPS_API_KEY;
  const url = endpoint ?? (apiKey ? AGENTOPS_OTLP_ENDPOINT : undefined);
  if (url !== undefined) {
    const token = apiKey
      ? agentOpsTokenSource(apiKey, options.apiEndpoint ?? env.AGENTOPS_API_ENDPOINT ?? AGENTOPS_API_ENDPOINT)
      : undefined;
    exporters.push(
      new OTLPTraceExporter({
        url,
        ...(token ? { headers: async () => ({ authorization: `Bearer ${await token()}` }) } : {}),
      }),
    );
  }
  if (exporters.length === 0) log.info('init: no exporter configured; spans are processed but not exported');

  const queues = exporters.map((exporter) => new CountingExportQueue(exporter, options.exportQueue));
  const processors: SpanProcessor[] = [new SessionSpanProcessor(options.sessionProcessor), ...queues];
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      ...options.resourceAttributes,
      'service.name': options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'unknown_service',
    }),
    spanProcessors: processors,
  });
  provider.register({ propagator: sessionPropagator(options.propagator) });

  let shutDown = false;
  const handle: InitHandle = {
    ownsProvider: true,
    tracerProvider: provider,
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      if (shutDown) return;
      shutDown = true;
      try {
        await provider.shutdown();
      } catch (err) {
        log.warn('shutdown of the tracer provider failed', err as Error);
      }
      // Unregister so that a later init (or the application's own setup) starts clean.
      trace.disable();
      propagation.disable();
      context.disable();
      state.handle = undefined;
      state.signing = undefined;
      state.globalSessionBaggage = false;
    },
    stats: () => {
      const totals = { spansExported: 0, spansDropped: 0, spansQueued: 0, inboundRefused: state.counters.droppedInbound };
      for (const queue of queues) {
        const s = queue.stats();
        totals.spansExported += s.exported;
        totals.spansDropped += s.dropped;
        totals.spansQueued += s.queued;
      }
      return totals;
    },
  };
  state.handle = handle;
  return handle;
}
