/**
 * A session in a Context: the session entry in the baggage (with the inbound-flags slot that
 * keeps the W3C random bit), and the span context of the session's root that rejoining hops
 * parent under.
 */
import {
  baggageEntryMetadataFromString,
  context as otelContext,
  propagation,
  TraceFlags,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';
import { INBOUND_FLAGS_KEY, type InboundFlags } from '../base/context-keys.js';
import { randomHexId } from '../base/ids.js';
import { formatSessionEntryMetadata, isValidSessionId, parseSessionEntry, SESSION_BAGGAGE_KEY, type SessionEntry } from './entry.js';

/**
 * Builds a context in which `entry` is the session: its baggage entry is set (other entries of
 * `base` are kept) and the inbound-flags slot carries the session's flags so that outbound
 * traceparents keep the W3C random bit.
 */
export function contextWithSessionEntry(base: Context, entry: SessionEntry): Context {
  const metadata = formatSessionEntryMetadata(entry);
  const current = propagation.getBaggage(base);
  const existing = current?.getEntry(SESSION_BAGGAGE_KEY);
  let ctx = base;
  // The same entry already there (every hop of a session): keep that Baggage, whose serialized
  // form the propagator has already cached.
  if (existing === undefined || existing.value !== entry.sessionId || (existing.metadata?.toString() ?? '') !== metadata) {
    const baggage = (current ?? propagation.createBaggage()).setEntry(SESSION_BAGGAGE_KEY, {
      value: entry.sessionId,
      ...(metadata ? { metadata: baggageEntryMetadataFromString(metadata) } : {}),
    });
    ctx = propagation.setBaggage(base, baggage);
  }
  if (entry.traceFlags !== undefined) {
    // Usually already there, from the traceparent of the same trace: each set copies the context.
    const present = ctx.getValue(INBOUND_FLAGS_KEY) as InboundFlags | undefined;
    if (present?.traceId !== entry.sessionId || present.flags !== entry.traceFlags) {
      const flags: InboundFlags = { traceId: entry.sessionId, flags: entry.traceFlags };
      ctx = ctx.setValue(INBOUND_FLAGS_KEY, flags);
    }
  }
  return ctx;
}

/** The validated session entry of a context's baggage, or undefined. */
export function getSessionEntry(ctx: Context = otelContext.active()): SessionEntry | undefined {
  const entry = propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY);
  if (entry === undefined) return undefined;
  return parseSessionEntry(entry.value, entry.metadata?.toString());
}

/** The session id of a context (default: the active one), validated; undefined outside sessions. */
export function getSessionId(ctx: Context = otelContext.active()): string | undefined {
  const value = propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY)?.value;
  return isValidSessionId(value) ? value : undefined;
}

/**
 * The span context of a session's root, as a remote parent: hops that rejoin the session start
 * under it. Without the root's span id (an entry from an older sender, an id started elsewhere)
 * a random stand-in parent keeps the work in the session's trace. Only the sampled bit is kept:
 * the SDK carries no other flag on a parent.
 */
export function sessionRootSpanContext(entry: SessionEntry, fallbackFlags: number = TraceFlags.SAMPLED): SpanContext {
  return {
    traceId: entry.sessionId,
    spanId: entry.rootSpanId ?? randomHexId(8),
    traceFlags: (entry.traceFlags ?? fallbackFlags) & TraceFlags.SAMPLED,
    isRemote: true,
  };
}
