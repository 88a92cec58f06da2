/**
 * `agentops-propagation/hop`: the hop engine, for people writing an adapter for a transport this
 * package does not cover. An adapter is a carrier (getter/setter), span names and semantic-
 * convention attributes around two calls: `startInboundHop` (or `runInboundHop`) where work
 * arrives, `startOutboundHop` where it leaves. Every decision (trust, signature, shape, target
 * fields) is taken inside the engine. See docs/hop-engine.md.
 */
export { resolveInbound } from './hop/decide.js';
export { startInboundHop } from './hop/inbound.js';
export { startOutboundHop } from './hop/outbound.js';
export { runInboundHop, runInHop } from './hop/run.js';
export { activeInstrumentationSpan } from './hop/adopt.js';
export { deferredContext } from './hop/deferred-context.js';
export type { HopOutcome, HopShape, InboundHop, InboundHopOptions, OutboundHop, OutboundHopOptions, ResolvedInbound } from './hop/types.js';
export type { InjectFields } from './base/context-keys.js';
export { resolveShape, resolveTrust, type ShapeMode, type ShapeOption, type TrustMode, type TrustOption } from './policy/trust.js';
export { createKeyring, type SigningKeyOption, type SigningKeyring } from './policy/signing.js';
export { contextWithVettedSession, getSessionEntry } from './session/context.js';
export type { SessionEntry } from './session/entry.js';
export { copyHeaders, httpHeaderGetter, httpHeaderSetter, type HttpHeaders } from './carriers/http.js';
export { mergeContextFields, type ContextMergeOptions } from './carriers/header-merge.js';
export { messagingAttributes, messagingSpanName, type MessagingSpanInfo } from './messaging/semconv.js';
export { classifyAddress, isClusterLocalHostname, isInternalAddress, isInternalHost, type AddressClass } from './http/network.js';
export { CountingExportQueue, type ExportQueueOptions, type ExportQueueStats } from './sdk/export-queue.js';
