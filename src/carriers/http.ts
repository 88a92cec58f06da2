/**
 * HTTP header carriers in every shape user code holds them: Node's `IncomingHttpHeaders`
 * (lowercase names, repeated headers as arrays or joined), plain objects with names in any case,
 * Fetch `Headers`, and `[name, value]` tuples (or Node's flat `rawHeaders`). HTTP names are
 * case-insensitive, so several spellings of one name are read as that header repeated: a
 * `traceparent` given twice is invalid rather than one of them picked at random.
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import { log } from '../base/diag.js';

/** The subset of Fetch `Headers` the carrier uses (any fetch implementation's). */
interface HeadersLike {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

/** A header tuple list: `[name, value]` pairs, as `HeadersInit` allows. */
type HeaderTuples = Iterable<readonly [string, string]>;

/** Header values a plain object may hold (Node's outgoing headers allow numbers and arrays). */
type HeaderRecordValue = string | number | readonly string[] | undefined | null;

/** Any header shape the carrier reads. */
export type HttpHeaders = HeadersLike | HeaderTuples | Readonly<Record<string, HeaderRecordValue>> | IncomingHttpHeaders;

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

function isHeadersLike(value: unknown): value is HeadersLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as HeadersLike).get === 'function' &&
    typeof (value as HeadersLike).forEach === 'function'
  );
}

function sameName(a: unknown, lowerName: string): boolean {
  return typeof a === 'string' && a.length === lowerName.length && a.toLowerCase() === lowerName;
}

/** Values of `name` in an array carrier: `[name, value]` tuples or a flat `[name, value, ...]` list. */
function fromArray(carrier: readonly unknown[], lowerName: string): unknown {
  const found: unknown[] = [];
  if (carrier.length > 0 && Array.isArray(carrier[0])) {
    for (const pair of carrier) if (Array.isArray(pair) && sameName(pair[0], lowerName)) found.push(pair[1]);
  } else {
    for (let i = 0; i + 1 < carrier.length; i += 2) if (sameName(carrier[i], lowerName)) found.push(carrier[i + 1]);
  }
  return found.length === 0 ? undefined : found.length === 1 ? found[0] : found;
}

/** Values of `name` in a plain object, whatever the spelling; several spellings make a repeated header. */
function fromRecord(carrier: Record<string, unknown>, lowerName: string): unknown {
  let found: unknown[] | undefined;
  let single: unknown;
  let count = 0;
  for (const key of Object.keys(carrier)) {
    if (!sameName(key, lowerName)) continue;
    const value = carrier[key];
    if (value === undefined || value === null) continue;
    count++;
    if (count === 1) single = value;
    else {
      found ??= Array.isArray(single) ? [...(single as unknown[])] : [single];
      if (Array.isArray(value)) found.push(...(value as unknown[]));
      else found.push(value);
    }
  }
  return count > 1 ? found : single;
}

/**
 * Reads one field from any supported header shape. The raw value (string, array, Buffer) goes to
 * the propagator, whose `readHeaderValue` coerces it. Never throws.
 */
export const httpHeaderGetter: TextMapGetter<unknown> = {
  get(carrier, key) {
    try {
      if (typeof carrier !== 'object' || carrier === null) return undefined;
      const lower = key.toLowerCase();
      if (isHeadersLike(carrier)) return carrier.get(lower) ?? undefined;
      if (Array.isArray(carrier)) return fromArray(carrier, lower) as string | string[] | undefined;
      return fromRecord(carrier as Record<string, unknown>, lower) as string | string[] | undefined;
    } catch (err) {
      log.warn(`reading header "${key}" failed; treated as absent`, err as Error);
      return undefined;
    }
  },
  keys(carrier) {
    try {
      if (typeof carrier !== 'object' || carrier === null) return [];
      return Object.keys(copyHeaders(carrier as HttpHeaders)).map((k) => k.toLowerCase());
    } catch {
      return [];
    }
  },
};

/**
 * Reads a field of Node's `req.headers`, whose names Node already lowercased: a direct property
 * read, no scan over a possibly huge header set. Never throws.
 */
export const incomingHeaderGetter: TextMapGetter<IncomingHttpHeaders> = {
  get(carrier, key) {
    if (typeof carrier !== 'object' || carrier === null || !hasOwn(carrier, key)) return undefined;
    return carrier[key];
  },
  keys(carrier) {
    return typeof carrier === 'object' && carrier !== null ? Object.keys(carrier) : [];
  },
};

/**
 * Writes a field into a carrier the library owns (a plain object it copied, or a `Headers` it
 * created): any other spelling of the name is removed so the field is not sent twice.
 */
export const httpHeaderSetter: TextMapSetter<Record<string, string> | { set(name: string, value: string): void }> = {
  set(carrier, key, value) {
    if (typeof (carrier as { set?: unknown }).set === 'function') {
      (carrier as { set(name: string, value: string): void }).set(key, value);
      return;
    }
    const record = carrier as Record<string, string>;
    const lower = key.toLowerCase();
    for (const existing of Object.keys(record)) if (existing !== lower && sameName(existing, lower)) delete record[existing];
    record[lower] = value;
  },
};

function appendValue(out: Record<string, string>, spelling: Map<string, string>, name: string, raw: unknown): void {
  let value: string;
  if (typeof raw === 'string') value = raw;
  else if (typeof raw === 'number' || typeof raw === 'boolean') value = String(raw);
  else if (Array.isArray(raw)) {
    const parts = raw.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number').map(String);
    if (parts.length === 0) return;
    value = parts.join(', ');
  } else {
    if (raw !== undefined && raw !== null) log.debug(`header "${name}" has a value of type ${typeof raw}; not copied`);
    return;
  }
  const lower = name.toLowerCase();
  const key = spelling.get(lower);
  // RFC 9110 field combination: repeated fields join with ", " under the first spelling.
  if (key === undefined) {
    spelling.set(lower, name);
    out[name] = value;
  } else out[key] = `${out[key]}, ${value}`;
}

/**
 * A NEW plain object with the headers of any supported shape: names keep their spelling (the
 * first one when a name is spelled several ways), repeated headers and arrays join with ", ",
 * numbers become strings, `undefined` / `null` are left out. The input is only read.
 */
export function copyHeaders(headers: HttpHeaders | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined || headers === null) return out;
  const spelling = new Map<string, string>();
  if (typeof headers !== 'object') {
    log.warn(`headers of type ${typeof headers} ignored`);
    return out;
  }
  if (isHeadersLike(headers)) {
    headers.forEach((value, name) => appendValue(out, spelling, name, value));
  } else if (Array.isArray(headers)) {
    if (headers.length > 0 && !Array.isArray(headers[0])) {
      for (let i = 0; i + 1 < headers.length; i += 2)
        if (typeof headers[i] === 'string') appendValue(out, spelling, headers[i] as string, headers[i + 1]);
    } else {
      for (const pair of headers as unknown[])
        if (Array.isArray(pair) && typeof pair[0] === 'string') appendValue(out, spelling, pair[0], pair[1]);
    }
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<unknown>)
      if (Array.isArray(pair) && typeof pair[0] === 'string') appendValue(out, spelling, pair[0], pair[1]);
  } else {
    for (const name of Object.keys(headers)) appendValue(out, spelling, name, (headers as Record<string, unknown>)[name]);
  }
  return out;
}
