/**
 * For applications with their own OpenTelemetry setup (NodeSDK, their own provider): the span
 * processors that add what `init` would, to put into their `spanProcessors`.
 */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { log } from '../base/diag.js';
import { SessionSpanProcessor, type SessionSpanProcessorOptions } from '../session/processor.js';
import { optionsObject } from '../policy/options.js';
import { exportPipeline, type ExportOptions } from './pipeline.js';
import { checkGlobalPropagator } from './propagators.js';

/** Options of {@link agentOpsSpanProcessors}. */
export interface AgentOpsSpanProcessorsOptions extends ExportOptions {
  /** Options of the session span processor. */
  sessionProcessor?: SessionSpanProcessorOptions;
  /**
   * Exporters to send spans to besides AgentOps, each behind its own bounded queue, as `init`'s
   * `exporters` (default none): for a provider `init` cannot add to (Sentry 10's, through
   * `Sentry.init({ openTelemetrySpanProcessors })`).
   */
  exporters?: SpanExporter[];
}

/** Checks, at the first span, that the global propagator is still the session one (NodeSDK registers its own in start()). */
class PropagatorCheck implements SpanProcessor {
  private checked = false;
  onStart(_span: Span, _context: Context): void {
    if (this.checked) return;
    this.checked = true;
    checkGlobalPropagator();
  }
  onEnd(_span: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The processors that give a span its session (`session.id` stamping) and send it to AgentOps
 * (OTLP with the token exchange and renewal, behind the bounded export queue), for
 * `new NodeSDK({ spanProcessors: [...agentOpsSpanProcessors(), ...yours] })`. Key and endpoint
 * come from the options, else `AGENTOPS_API_KEY` and `AGENTOPS_EXPORTER_ENDPOINT` (then AgentOps'
 * own); the `OTEL_EXPORTER_OTLP_*` endpoint and protocol are left to the application's exporter.
 * `exporters` get every span too, each behind its own queue. Without a key, an endpoint or
 * exporters only the session stamping is returned. Config errors throw here.
 */
export function agentOpsSpanProcessors(options: AgentOpsSpanProcessorsOptions = {}): SpanProcessor[] {
  const o = optionsObject(options, 'agentOpsSpanProcessors options') as AgentOpsSpanProcessorsOptions;
  const pipeline = exportPipeline(o, 'agentOpsSpanProcessors', o.exporters ?? [], process.env, true);
  if (pipeline.queues.length === 0)
    log.info('agentOpsSpanProcessors: no AgentOps key, OTLP endpoint or exporters; returning session stamping only');
  return [new PropagatorCheck(), new SessionSpanProcessor(o.sessionProcessor), ...pipeline.queues];
}
