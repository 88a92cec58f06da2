/**
 * One rule for writing a hop's W3C fields into headers someone already filled (HTTP request
 * headers, Kafka message headers), always into a copy the library owns:
 *
 * - `traceparent`: an existing one is kept with its `tracestate` (a forwarded request or message
 *   carries its own trace), unless `overrideTraceparent`, which replaces them (and any B3 field
 *   the hop wrote) with ours;
 * - `baggage`: always merged. Their members are kept and win a shared key, except the session
 *   entry (all its members), which is ours: the session the work actually runs in, vetted by this
 *   library.
 *
 * Header names are matched in any case; a replaced field is written lowercase, a merged `baggage`
 * under the first spelling the headers had.
 */
import { parseBaggage, serializeBaggage, type BaggageItem } from '../propagation/baggage.js';
import { readHeaderValue } from '../propagation/carrier-values.js';
import { isSessionEntryKey, SESSION_MEMBER } from '../session/entry.js';

/** How a hop's fields combine with fields the headers already hold. */
export interface ContextMergeOptions {
  /** Replace a `traceparent` (and its `tracestate`) the headers already carry (default false: keep theirs). */
  overrideTraceparent?: boolean;
}

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const BAGGAGE = 'baggage';

/**
 * Combines two `baggage` header values as W3C list fields combine: every member of `preferred`
 * is kept, a member of `other` only when `preferred` has no member of that key. Malformed members
 * are dropped (and logged by the parser); the result honours the default size and count limits,
 * the session entry being the last member given up.
 */
export function mergeBaggageHeaders(preferred: string, other: string): string {
  const first = parseBaggage(preferred, undefined, SESSION_MEMBER).entries;
  const keys = new Set(first.map((item) => item.key));
  const merged: BaggageItem[] = first.slice();
  for (const item of parseBaggage(other, undefined, SESSION_MEMBER).entries) if (!keys.has(item.key)) merged.push(item);
  return serializeBaggage(merged, undefined, SESSION_MEMBER);
}

/**
 * Their `baggage` and ours: their members win a shared key, except the session entry, which is
 * ours whole: with a session of ours, none of their session members (a stale signature, a root of
 * another session) is kept beside it.
 */
export function mergeSessionBaggage(existing: string, ours: string): string {
  const ourItems = parseBaggage(ours, undefined, SESSION_MEMBER).entries;
  if (!ourItems.some((item) => item.key === SESSION_MEMBER.key)) return mergeBaggageHeaders(existing, ours);
  const theirs = parseBaggage(existing, undefined, SESSION_MEMBER).entries.filter((item) => !isSessionEntryKey(item.key));
  const merged = ourItems.filter((item) => isSessionEntryKey(item.key));
  const keys = new Set(merged.map((item) => item.key));
  for (const item of [...theirs, ...ourItems]) {
    if (keys.has(item.key)) continue;
    keys.add(item.key);
    merged.push(item);
  }
  return serializeBaggage(merged, undefined, SESSION_MEMBER);
}

/** Own keys of `headers` that spell `name` in any case. */
function spellingsOf(headers: object, name: string): string[] {
  const found: string[] = [];
  for (const key of Object.keys(headers)) if (key.length === name.length && key.toLowerCase() === name) found.push(key);
  return found;
}

function deleteAll(headers: Record<string, unknown>, name: string): void {
  for (const key of spellingsOf(headers, name)) delete headers[key];
}

/**
 * Writes `ours` (the fields an outbound hop produced) into `headers`, a record the caller owns
 * (a copy), by the rule of the module comment. Values of any carrier type are read as header
 * text (strings, Buffers, arrays of either).
 */
export function mergeContextFields(
  headers: Record<string, unknown>,
  ours: Readonly<Record<string, string>>,
  options: ContextMergeOptions = {},
): void {
  const writeTrace =
    ours[TRACEPARENT] !== undefined && (options.overrideTraceparent === true || spellingsOf(headers, TRACEPARENT).length === 0);
  if (writeTrace) {
    // tracestate (and B3, when a propagator writes it) belong to the traceparent they came with:
    // replace all of them or none.
    for (const name of Object.keys(ours)) {
      if (name === BAGGAGE) continue;
      deleteAll(headers, name);
      headers[name] = ours[name];
    }
    if (ours[TRACESTATE] === undefined) deleteAll(headers, TRACESTATE);
  }
  const baggage = ours[BAGGAGE];
  if (baggage === undefined) return;
  const keys = spellingsOf(headers, BAGGAGE);
  if (keys.length === 0) {
    headers[BAGGAGE] = baggage;
    return;
  }
  const theirs = readHeaderValue(keys.length === 1 ? headers[keys[0] as string] : keys.flatMap((k) => headers[k]), 'list');
  deleteAll(headers, BAGGAGE);
  const merged = theirs === undefined ? baggage : mergeSessionBaggage(theirs, baggage);
  if (merged.length > 0) headers[keys[0] as string] = merged;
}
