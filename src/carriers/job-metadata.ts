/**
 * The job-metadata carrier: the string a job queue stores with each job for context propagation
 * (BullMQ keeps it in `job.opts.telemetry.metadata`). It is the JSON of a W3C carrier:
 *
 *   {"traceparent":"00-…","tracestate":"…","baggage":"agentops.session.id=…,agentops.session.root=…,agentops.session.flags=03"}
 *
 * W3C fields sit at the top level because that is what `bullmq-otel` writes and reads, so a job
 * produced by either side is understood by the other. Anything of this library's own would go
 * under the one namespaced key `agentops`; nothing needs to today, so the key is reserved and
 * skipped on read. No job payload ever goes in here.
 *
 * The string comes out of Redis, where anyone with access can write it: it is parsed defensively
 * (size checked before `JSON.parse`, non-objects and non-string fields dropped with a diag log).
 */
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';
import { BoundedCache } from '../base/bounded-cache.js';
import { log } from '../base/diag.js';

/**
 * Longest metadata string parsed, in characters. What we write stays under 9 KB (traceparent,
 * tracestate capped at 512, baggage capped at 8192); a longer string is not ours, and
 * `JSON.parse` must not be handed a megabyte from a hostile job.
 */
export const MAX_JOB_METADATA_CHARS = 16 * 1024;

/** Reserved key for this library's own fields in job metadata; never read as a W3C field. */
const JOB_METADATA_NAMESPACE = 'agentops';

/** The W3C fields a metadata object is expected to carry as strings. */
const W3C_FIELDS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'baggage']);

/** A `sentry-trace` header value: trace id, span id, optional sampled flag. */
const SENTRY_TRACE = /^[0-9a-f]{32}-[0-9a-f]{16}(-[01])?$/;

/** Parsed job metadata: the top-level string fields, on a frozen null-prototype object. */
export type JobMetadataCarrier = Readonly<Record<string, string>>;

/**
 * Carriers parsed lately, by their string: a bulk add stores one string in every job it adds,
 * and a job's getNextJob and process spans each read it. Only clean parses are kept (bad input
 * is logged every time it is read), and only strings up to {@link MEMO_MAX_CHARS}.
 */
const recentlyParsed = new BoundedCache<string, JobMetadataCarrier>(64);

/** Longest metadata string kept in {@link recentlyParsed}: ours with a session entry is about 200. */
const MEMO_MAX_CHARS = 2048;

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

/**
 * Reads a stored metadata string. Returns undefined when there is none or none usable; every
 * unusable input (not a string, over {@link MAX_JOB_METADATA_CHARS}, not JSON, not an object)
 * is logged, as is a W3C field of the wrong type. Never throws.
 */
export function parseJobMetadata(raw: unknown): JobMetadataCarrier | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') {
    log.warn(`job metadata of type ${typeof raw} dropped; expected a JSON string`);
    return undefined;
  }
  if (raw.length <= MEMO_MAX_CHARS) {
    const known = recentlyParsed.get(raw);
    if (known !== undefined) return known;
  }
  if (raw.length > MAX_JOB_METADATA_CHARS) {
    log.warn(`job metadata of ${raw.length} characters dropped unparsed (limit ${MAX_JOB_METADATA_CHARS})`);
    return undefined;
  }
  // Sentry's BullMQ telemetry stores a bare `sentry-trace` value: another tool's metadata, not
  // bad input, so no warning for every job of a queue both instrument.
  if (SENTRY_TRACE.test(raw)) {
    log.debug("job metadata is a sentry-trace value (Sentry's BullMQ telemetry), not a W3C carrier: no context taken from it");
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    log.warn('job metadata dropped: not JSON');
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    log.warn(
      `job metadata dropped: JSON ${parsed === null ? 'null' : Array.isArray(parsed) ? 'array' : typeof parsed}, expected an object`,
    );
    return undefined;
  }
  // Null prototype: a `__proto__` key from JSON.parse stays an ordinary (ignored) field.
  const carrier = Object.create(null) as Record<string, string>;
  let clean = true;
  for (const key of Object.keys(parsed)) {
    if (key === JOB_METADATA_NAMESPACE) continue;
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value === 'string') carrier[key] = value;
    else if (W3C_FIELDS.has(key)) {
      clean = false;
      log.warn(`job metadata field "${key}" of type ${value === null ? 'null' : typeof value} dropped; expected a string`);
    }
  }
  // Frozen: the same carrier may serve every job that stored this string.
  Object.freeze(carrier);
  if (clean && raw.length <= MEMO_MAX_CHARS) recentlyParsed.set(raw, carrier);
  return carrier;
}

/** The metadata string for injected fields; '' when there are none (so that nothing is stored). */
export function formatJobMetadata(fields: Readonly<Record<string, string>>): string {
  for (const key in fields) {
    if (hasOwn(fields, key)) return JSON.stringify(fields);
  }
  return '';
}

/** A fresh carrier to inject into before {@link formatJobMetadata}. */
export function emptyJobMetadata(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** Reads a field of parsed job metadata (propagators write lowercase names; others are tolerated). */
export const jobMetadataGetter: TextMapGetter<JobMetadataCarrier | undefined> = {
  get(carrier, key) {
    if (carrier === undefined || carrier === null) return undefined;
    if (hasOwn(carrier, key)) return carrier[key];
    const lower = key.toLowerCase();
    return lower !== key && hasOwn(carrier, lower) ? carrier[lower] : undefined;
  },
  keys(carrier) {
    return carrier === undefined || carrier === null ? [] : Object.keys(carrier);
  },
};

/** Writes a field into a carrier made by {@link emptyJobMetadata}; our own namespace key is never a field. */
export const jobMetadataSetter: TextMapSetter<Record<string, string>> = {
  set(carrier, key, value) {
    if (key !== JOB_METADATA_NAMESPACE && typeof value === 'string') carrier[key] = value;
  },
};
