export { init, resolveOtlpEndpoint, type InitHandle, type InitOptions, type InitStats } from './sdk/init.js';
export { startSession, withSession, sessionContext, type Session, type SessionEndState, type StartSessionOptions } from './session/session.js';
export { getSessionId, getSessionEntry } from './session/context.js';
export { SESSION_BAGGAGE_KEY, isValidSessionId, type SessionEntry } from './session/entry.js';
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
} from './session/spans.js';
export { agent, operation, tool, type DecoratorOptions } from './session/decorators.js';
export { SessionSpanProcessor, type SessionSpanProcessorOptions } from './session/processor.js';
export { sessionPropagator, SessionPropagator, type SessionPropagatorOptions } from './propagator/session-propagator.js';
export { type PropagationLimits } from './propagation/limits.js';
export { startInboundHop } from './hop/inbound.js';
export { runInboundHop } from './hop/run.js';
export { resolveInbound } from './hop/decide.js';
export { startOutboundHop } from './hop/outbound.js';
export { type HopOutcome, type HopShape, type InboundHop, type InboundHopOptions, type OutboundHop, type OutboundHopOptions, type ResolvedInbound } from './hop/types.js';
export {
  resolveTrust,
  resolveShape,
  type ShapeMode,
  type ShapeOption,
  type TrustMode,
  type TrustOption,
} from './policy/trust.js';
export { createKeyring, type SigningKeyConfig, type SigningKeyOption, type SigningKeyring, type SigningSecret } from './policy/signing.js';
export { CountingExportQueue, type ExportQueueOptions, type ExportQueueStats } from './sdk/export-queue.js';
export { ATTR } from './session/attributes.js';
