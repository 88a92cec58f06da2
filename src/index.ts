export { init, resolveOtlpEndpoint, type InitHandle, type InitOptions, type InitStats } from './init.js';
export {
  startSession,
  withSession,
  getSessionId,
  getSessionEntry,
  sessionContext,
  type Session,
  type SessionEndState,
  type StartSessionOptions,
} from './session.js';
export { SESSION_BAGGAGE_KEY, isValidSessionId, type SessionEntry } from './session-entry.js';
export {
  withAgent,
  withOperation,
  withTool,
  withLlmCall,
  recordLlmUsage,
  type AgentOpsSpanKind,
  type LlmCallOptions,
  type LlmUsage,
  type SpanHelperOptions,
} from './spans.js';
export { agent, operation, tool, type DecoratorOptions } from './decorators.js';
export { SessionSpanProcessor, type SessionSpanProcessorOptions } from './processor.js';
export { sessionPropagator, SessionPropagator, type SessionPropagatorOptions, type PropagationLimits } from './propagation/index.js';
export {
  startInboundHop,
  runInboundHop,
  resolveInbound,
  startOutboundHop,
  type HopOutcome,
  type HopShape,
  type InboundHop,
  type InboundHopOptions,
  type OutboundHop,
  type OutboundHopOptions,
  type ResolvedInbound,
} from './hop.js';
export {
  resolveTrust,
  resolveShape,
  type ShapeMode,
  type ShapeOption,
  type TrustMode,
  type TrustOption,
} from './trust.js';
export { createKeyring, type SigningKeyConfig, type SigningKeyOption, type SigningKeyring, type SigningSecret } from './signing.js';
export { CountingExportQueue, type ExportQueueOptions, type ExportQueueStats } from './export-queue.js';
export { ATTR } from './attributes.js';
