/**
 * Your own OpenTelemetry setup (NodeSDK with the auto-instrumentations) plus what AgentOps needs:
 * session stamping and an AgentOps exporter in `spanProcessors`, and the session propagator as
 * NodeSDK's propagator. Import this module before anything it instruments.
 *
 * Environment: AGENTOPS_API_KEY (and optionally AGENTOPS_EXPORTER_ENDPOINT / AGENTOPS_API_ENDPOINT)
 * for AgentOps; MY_COLLECTOR_URL for your own OTLP backend (any exporter works there).
 */
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { agentOpsSpanProcessors, init, sessionPropagator } from 'agentops-propagation';

export const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME ?? 'otel-setup-example',
  instrumentations: [getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-fs': { enabled: false } })],
  spanProcessors: [
    // Session stamping first, so every exporter below sees session.id; then AgentOps.
    ...agentOpsSpanProcessors(),
    // Your own backend, batched and sampled as you like.
    new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.MY_COLLECTOR_URL ?? 'http://127.0.0.1:4318/v1/traces' })),
  ],
  // NodeSDK registers W3C propagators of its own in start(); this keeps the session one.
  textMapPropagator: sessionPropagator(),
});
sdk.start();

// After start(): init joins NodeSDK's provider (creates none) and sets up the signing key and the
// propagator; it warns if the session processor is missing from spanProcessors.
export const otel = init();
