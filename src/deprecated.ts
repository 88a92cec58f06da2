/**
 * Names the main entry exported in 0.1.0 that moved to `agentops-propagation/hop` in 0.2.0 (the
 * hop engine is for people writing a transport adapter, not for applications). Deprecated: kept
 * for one minor version and removed in 0.3.0 (CHANGELOG.md). Import them from
 * `agentops-propagation/hop`; `resolveOtlpEndpoint` is an internal of `init` (pass
 * `otlpEndpoint` to `init` instead).
 */
export { resolveInbound } from './hop/decide.js';
export { startInboundHop } from './hop/inbound.js';
export { startOutboundHop } from './hop/outbound.js';
export { runInboundHop } from './hop/run.js';
export type { HopOutcome, HopShape, InboundHop, InboundHopOptions, OutboundHop, OutboundHopOptions, ResolvedInbound } from './hop/types.js';
export { resolveShape, resolveTrust } from './policy/trust.js';
export { CountingExportQueue, type ExportQueueOptions, type ExportQueueStats } from './sdk/export-queue.js';
export { resolveOtlpEndpoint } from './sdk/otlp.js';
export { getSessionEntry } from './session/context.js';
export type { SessionEntry } from './session/entry.js';
