import { parseBaggage, serializeBaggage, type BaggageItem } from './baggage.js';

/**
 * Combines two `baggage` header values into one, as W3C list fields combine: every member of
 * `preferred` is kept, and a member of `other` only when `preferred` has no member of that key.
 * Malformed members are dropped (and logged by the parser); the result honours the propagator's
 * default size and count limits, the session entry being the last member given up. Used where an
 * outbound carrier already holds a `baggage` header of the user's and ours must not replace it.
 */
export function mergeBaggageHeaders(preferred: string, other: string): string {
  const first = parseBaggage(preferred).entries;
  const keys = new Set(first.map((item) => item.key));
  const merged: BaggageItem[] = first.slice();
  for (const item of parseBaggage(other).entries) if (!keys.has(item.key)) merged.push(item);
  return serializeBaggage(merged);
}
