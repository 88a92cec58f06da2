/**
 * THE REFERENCE (shared part). What one span per hop costs when written by hand on the plain
 * OpenTelemetry API and SDK: extract with OTel's W3C propagators, one SDK span, the session id
 * read from the baggage entry. Later issues measure against this and must not edit it (or any
 * file in bench/reference/): a faster reference would move every target.
 */
import { propagation, type Attributes, type Context } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

/** The W3C trace-context + baggage composite, as the SDK registers it by default. */
export const w3cPropagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

const SESSION_KEY = 'agentops.session.id';

/**
 * Adds `session.id` and `agentops.session.id` from the extracted baggage entry, as our spans
 * carry them, and the hop's two attributes with the values our hop sets for a trusted caller.
 */
export function addSessionAttributes(attributes: Attributes, extracted: Context): Attributes {
  const session = propagation.getBaggage(extracted)?.getEntry(SESSION_KEY)?.value;
  if (session !== undefined) {
    attributes['session.id'] = session;
    attributes[SESSION_KEY] = session;
  }
  attributes['agentops.hop.trust'] = 'trust';
  attributes['agentops.hop.shape'] = 'parent';
  return attributes;
}
