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
import { readHeaderValue } from '../propagation/carrier-values.js';
import { mergeContextFields, mergeSessionBaggage, type ContextMergeOptions } from './header-merge.js';

/** One Kafka header value as kafkajs delivers or accepts it (null only ever at runtime). */
export type KafkaHeaderValue = Buffer | string | (Buffer | string)[] | null | undefined;

/** A kafkajs header record (`IHeaders`), without importing kafkajs. */
export type KafkaHeaders = Record<string, KafkaHeaderValue>;

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

/** True for something that can be a header record: a non-null, non-array object. */
export function isHeaderRecord(value: unknown): value is KafkaHeaders {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own keys of `headers` that spell `name` in any case; the exact spelling alone when present. */
function headerKeys(headers: KafkaHeaders, name: string): string[] {
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

/**
 * Keeps the hop's session in `headers.baggage` when another instrumentation assigns the header
 * instead of injecting into it (Sentry's Kafka integration, 10 and 11, does
 * `message.headers.baggage = <its members>`): the assigned value is merged by the header-merge
 * rule, its members winning a shared key except the session entry, which stays the hop's.
 */
function keepSessionOnAssignment(headers: KafkaHeaders): void {
  const ours = readHeaderValue(headers.baggage, 'list');
  if (ours === undefined) return;
  const state: AssignedBaggage = { value: headers.baggage, ours };
  Object.defineProperty(headers, ASSIGNED_BAGGAGE, { value: state });
  Object.defineProperty(headers, 'baggage', BAGGAGE_ACCESSOR);
}

/** The header's current value and the hop's own baggage, kept beside the record under a symbol (not a header, not enumerable). */
interface AssignedBaggage {
  value: KafkaHeaderValue;
  ours: string;
}
const ASSIGNED_BAGGAGE = Symbol('agentops-propagation.kafka.assigned-baggage');

type GuardedHeaders = { [ASSIGNED_BAGGAGE]: AssignedBaggage };

/** One accessor for every header record: no functions made per message. */
const BAGGAGE_ACCESSOR: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: GuardedHeaders): KafkaHeaderValue {
    return this[ASSIGNED_BAGGAGE].value;
  },
  set(this: GuardedHeaders, next: KafkaHeaderValue) {
    const state = this[ASSIGNED_BAGGAGE];
    const theirs = readHeaderValue(next, 'list');
    state.value = theirs === undefined ? next : mergeSessionBaggage(theirs, state.ours);
  },
};

/**
 * A new header record: the caller's headers (never modified) plus this hop's W3C `fields`,
 * combined by the one header-merge rule (carriers/header-merge.ts).
 */
export function headersWithContext(
  headers: KafkaHeaders | undefined,
  fields: Readonly<Record<string, string>>,
  options: ContextMergeOptions,
): KafkaHeaders {
  const out: KafkaHeaders = headers === undefined ? {} : { ...headers };
  mergeContextFields(out, fields, options);
  keepSessionOnAssignment(out);
  return out;
}
