import { createContextKey } from '@opentelemetry/api';

// createContextKey uses Symbol.for, so two copies of this module agree on the keys.

/** Inbound W3C trace-flags byte (Level 2 random bit included), with the trace id it belongs to. */
export const INBOUND_FLAGS_KEY = createContextKey('agentops-propagation.inbound-flags');

/**
 * Permission, set by our own outbound hops, to emit the session baggage entry. Without it the
 * global propagator (which instrumentation-http or undici may call for any request) withholds it.
 */
export const SESSION_PERMIT_KEY = createContextKey('agentops-propagation.session-permit');

/**
 * The vetted session of a context: the session entry this library accepted at an inbound hop,
 * started (`startSession`/`withSession`), signed for an outbound hop, or was handed through the
 * hop engine. Only session/context.ts writes it. A session entry in the baggage without this mark
 * (the global propagator's `extract` called by someone else, user code) is inert: never stamped,
 * signed or forwarded, because anyone who can reach a port can put one there.
 */
export const VETTED_SESSION_KEY = createContextKey('agentops-propagation.vetted-session');

/** What an outbound hop may write: set by the hop from the target policy. */
export const INJECT_FIELDS_KEY = createContextKey('agentops-propagation.inject-fields');

/** Inbound trace flags as read from traceparent, kept because the SDK keeps only the sampled bit. */
export interface InboundFlags {
  traceId: string;
  flags: number;
}

/** Which W3C fields an outbound hop writes. */
export interface InjectFields {
  traceparent: boolean;
  baggage: boolean;
}
