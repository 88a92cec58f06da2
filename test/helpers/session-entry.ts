// The session entry a `baggage` header carries, read as an inbound hop reads it (the library's
// own baggage propagator, then the entry reader), for tests that look at what went out.
import { defaultTextMapGetter, ROOT_CONTEXT } from '@opentelemetry/api';
import { sessionPropagator } from '../../src/propagator/session-propagator.js';
import { baggageSessionEntry } from '../../src/session/context.js';
import type { SessionEntry } from '../../src/session/entry.js';

const propagator = sessionPropagator();

/** The entry in `baggage` (any accepted form), or undefined. */
export function entryOfBaggage(baggage: string): SessionEntry | undefined {
  return baggageSessionEntry(propagator.extract(ROOT_CONTEXT, { baggage }, defaultTextMapGetter));
}
