import { createContextKey } from '@opentelemetry/api';

// createContextKey uses Symbol.for, so two copies of this module agree on the keys.

/** Inbound W3C trace-flags byte (Level 2 random bit included), with the trace id it belongs to. */
export const INBOUND_FLAGS_KEY = createContextKey('agentops-propagation.inbound-flags');

/**
 * Permission, set by our own outbound hops, to emit the session baggage entry. Without it the
 * global propagator (which instrumentation-http or undici may call for any request) withholds it.
 */
export const SESSION_PERMIT_KEY = createContextKey('agentops-propagation.session-permit');

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
