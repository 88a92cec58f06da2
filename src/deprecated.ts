/**
 * Names the main entry exported in 0.1.0 that moved to `agentops-propagation/hop` in 0.2.0 (the
 * hop engine is for people writing a transport adapter, not for applications). Kept as aliases
 * for one minor version; removed in 0.3.0 (CHANGELOG.md).
 */
import { resolveInbound as resolveInboundImpl } from './hop/decide.js';
import { startInboundHop as startInboundHopImpl } from './hop/inbound.js';
import { startOutboundHop as startOutboundHopImpl } from './hop/outbound.js';
import { runInboundHop as runInboundHopImpl } from './hop/run.js';
import type * as hop from './hop/types.js';
import { resolveShape as resolveShapeImpl, resolveTrust as resolveTrustImpl } from './policy/trust.js';
import {
  CountingExportQueue as CountingExportQueueImpl,
  type ExportQueueOptions as ExportQueueOptionsImpl,
  type ExportQueueStats as ExportQueueStatsImpl,
} from './sdk/export-queue.js';
import { resolveOtlpEndpoint as resolveOtlpEndpointImpl } from './sdk/otlp.js';
import { getSessionEntry as getSessionEntryImpl } from './session/context.js';
import type { SessionEntry as SessionEntryImpl } from './session/entry.js';

/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const startInboundHop = startInboundHopImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const runInboundHop = runInboundHopImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const resolveInbound = resolveInboundImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const startOutboundHop = startOutboundHopImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const resolveTrust = resolveTrustImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const resolveShape = resolveShapeImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const getSessionEntry = getSessionEntryImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export const CountingExportQueue = CountingExportQueueImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type CountingExportQueue = CountingExportQueueImpl;
/** @deprecated Since 0.2.0: an internal of `init`; pass `otlpEndpoint` to `init` instead. Removed in 0.3.0. */
export const resolveOtlpEndpoint = resolveOtlpEndpointImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type ExportQueueOptions = ExportQueueOptionsImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type ExportQueueStats = ExportQueueStatsImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type SessionEntry = SessionEntryImpl;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type HopOutcome = hop.HopOutcome;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type HopShape = hop.HopShape;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type InboundHop = hop.InboundHop;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type InboundHopOptions<Carrier> = hop.InboundHopOptions<Carrier>;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type OutboundHop = hop.OutboundHop;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type OutboundHopOptions = hop.OutboundHopOptions;
/** @deprecated Since 0.2.0: import from `agentops-propagation/hop`. Removed in 0.3.0. */
export type ResolvedInbound = hop.ResolvedInbound;
