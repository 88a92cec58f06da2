/**
 * The Kafka header carrier, as kafkajs shapes it.
 *
 * Values: kafkajs decodes every header value as a `Buffer`; producers may pass strings; a key
 * repeated in one record arrives as an array of values; at runtime a value can be `null`. The
 * getter hands the raw value to the propagator, whose `readHeaderValue` coerces it: a repeated
 * `traceparent` is invalid, repeated `baggage` / `tracestate` values combine as lists.
 *
 * Names: Kafka header names are case-sensitive, W3C names are lowercase. We write lowercase names.
 * On read, the exact lowercase name wins; only when it is absent do other casings count (some
 * clients capitalise), and several casings of one name are read as that header repeated, which
 * makes a `traceparent` spelled twice invalid rather than picking one of them.
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { mergeBaggageHeaders } from '../propagation/baggage-merge.js';
import { log } from '../base/diag.js';
import { readHeaderValue } from '../propagation/carrier-values.js';

/** One Kafka header value as kafkajs delivers or accepts it (null only ever at runtime). */
export type KafkaHeaderValue = Buffer | string | (Buffer | string)[] | null | undefined;

/** A kafkajs header record (`IHeaders`), without importing kafkajs. */
export type KafkaHeaders = Record<string, KafkaHeaderValue>;

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const BAGGAGE = 'baggage';

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

/** True for something that can be a header record: a non-null, non-array object. */
export function isHeaderRecord(value: unknown): value is KafkaHeaders {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own keys of `headers` that spell `name` in any case; the exact spelling alone when present. */
export function headerKeys(headers: KafkaHeaders, name: string): string[] {
  if (hasOwn(headers, name)) return [name];
  const lower = name.toLowerCase();
  const found: string[] = [];
  for (const key of Object.keys(headers)) if (key.length === lower.length && key.toLowerCase() === lower) found.push(key);
  return found;
}

/** Reads one propagation field from kafkajs headers; the raw value goes to `readHeaderValue`. */
export const kafkaHeaderGetter: TextMapGetter<KafkaHeaders | null | undefined> = {
  get(carrier, key) {
    if (!isHeaderRecord(carrier)) return undefined;
    const keys = headerKeys(carrier, key);
    if (keys.length === 0) return undefined;
    if (keys.length === 1) return (carrier[keys[0] as string] ?? undefined) as string | string[] | undefined;
    const values: (Buffer | string)[] = [];
    for (const k of keys) {
      const value = carrier[k];
      if (Array.isArray(value)) values.push(...value);
      else if (value !== null && value !== undefined) values.push(value);
    }
    return values as unknown as string[];
  },
  keys(carrier) {
    return isHeaderRecord(carrier) ? Object.keys(carrier) : [];
  },
};

/** Writes one propagation field into a header record the adapter owns (never the caller's). */
export const kafkaHeaderSetter: TextMapSetter<KafkaHeaders> = {
  set(carrier, key, value) {
    if (isHeaderRecord(carrier)) carrier[key] = value;
  },
};

function removeAll(headers: KafkaHeaders, name: string): void {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) delete headers[key];
}

/** Options of {@link headersWithContext}. */
export interface HeaderMergeOptions {
  /** Replace a `traceparent` (and its `tracestate`) the caller already set. */
  overrideTraceparent: boolean;
}

/**
 * A new header record: the caller's headers (never modified) plus this hop's W3C `fields`.
 *
 * - headers without a `traceparent` get ours, our `tracestate`, and our `baggage` merged into any
 *   the caller set (the caller's members win on a shared key);
 * - headers that already carry a `traceparent` carry their own context (a forwarded message):
 *   nothing of ours is written, unless `overrideTraceparent`, which writes our `traceparent` and
 *   `tracestate` in place of theirs and merges `baggage` with our members winning.
 */
export function headersWithContext(headers: KafkaHeaders | undefined, fields: Readonly<Record<string, string>>, options: HeaderMergeOptions): KafkaHeaders {
  const out: KafkaHeaders = headers === undefined ? {} : { ...headers };
  const hasTraceparent = headerKeys(out, TRACEPARENT).length > 0;
  if (hasTraceparent && !options.overrideTraceparent) {
    log.debug('kafka: message already carries a traceparent; its context is kept');
    return out;
  }
  const traceparent = fields[TRACEPARENT];
  if (traceparent !== undefined) {
    removeAll(out, TRACEPARENT);
    removeAll(out, TRACESTATE);
    out[TRACEPARENT] = traceparent;
    const tracestate = fields[TRACESTATE];
    if (tracestate !== undefined) out[TRACESTATE] = tracestate;
  }
  const baggage = fields[BAGGAGE];
  if (baggage !== undefined) {
    const keys = headerKeys(out, BAGGAGE);
    const theirs = keys.length === 0 ? undefined : readHeaderValue(keys.length === 1 ? out[keys[0] as string] : keys.map((k) => out[k]).flat(), 'list');
    removeAll(out, BAGGAGE);
    const merged = theirs === undefined ? baggage : options.overrideTraceparent ? mergeBaggageHeaders(baggage, theirs) : mergeBaggageHeaders(theirs, baggage);
    if (merged.length > 0) out[BAGGAGE] = merged;
  }
  return out;
}
