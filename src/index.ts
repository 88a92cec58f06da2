/**
 * `agentops-propagation`: what an application uses. `init` sets up tracing with the session
 * propagator; sessions, span helpers and decorators mark the work; the processor and propagator
 * serve applications that bring their own OpenTelemetry setup. Transport adapters live in the
 * subpaths (`/express`, `/fastify`, `/http`, `/kafkajs`, `/bullmq`), the hop engine for people
 * writing their own adapter in `/hop`.
 */
export { init, type InitHandle, type InitOptions, type InitStats } from './sdk/init.js';
export { agentOpsSpanProcessors, type AgentOpsSpanProcessorsOptions } from './sdk/span-processors.js';
export type { ExportOptions } from './sdk/pipeline.js';
export type { OtlpProtocol } from './sdk/otlp.js';
export type { MetricExporterName, MetricsOptions, ModelPrice, TemporalityPreference } from './sdk/metrics-options.js';
export {
  sessionContext,
  startSession,
  withSession,
  type Session,
  type SessionEndState,
  type StartSessionOptions,
} from './session/session.js';
export { getSessionId } from './session/context.js';
export { isValidSessionId, SESSION_BAGGAGE_KEY } from './session/entry.js';
export {
  recordLlmUsage,
  withAgent,
  withLlmCall,
  withOperation,
  withTool,
  type AgentOpsSpanKind,
  type LlmCallOptions,
  type LlmUsage,
  type SpanHelperOptions,
} from './session/spans.js';
export { agent, operation, tool, type DecoratorOptions } from './session/decorators.js';
export { SessionSpanProcessor, type SessionSpanProcessorOptions } from './session/processor.js';
export { ATTR } from './session/attributes.js';
export { SessionPropagator, sessionPropagator, type SessionPropagatorOptions } from './propagator/session-propagator.js';
export type { PropagationLimits } from './propagation/limits.js';
export { createKeyring, type SigningKeyConfig, type SigningKeyOption, type SigningKeyring, type SigningSecret } from './policy/signing.js';
export type { ShapeMode, ShapeOption, TrustMode, TrustOption } from './policy/trust.js';
export * from './deprecated.js';
