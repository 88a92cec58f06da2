/**
 * The outbound guard for undici and global fetch (Node's bundled undici and the npm package
 * publish on the same channel names). `undici:request:create` gives origin and path; other
 * subscribers of that channel (instrumentation-undici) add their headers after us, and undici
 * serializes the header block synchronously from `request.headers` with no channel in between.
 * So, for a denied destination only, that one request's `headers` becomes an accessor whose
 * getter filters in place: every later push goes through it, and the writer reads it last.
 *
 * Inside this library's own hops (sessionFetch runs fetch with tracing suppressed, so that stock
 * instrumentation adds no second span), another instrumentation that starts a span anyway gets
 * the invalid span context and writes headers naming the all-zero trace (Sentry 10's fetch
 * integration: `sentry-trace: 000…-000…`, `sentry-trace_id=000…`), which a Sentry receiver
 * continues as a trace: those are removed whatever the destination.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { InjectFields } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { decideAll, filterDeniedBaggage, TRACE_HEADERS, type Decider } from './guarded-headers.js';

const CHANNEL = 'undici:request:create';

interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  headers?: unknown;
}

const INVALID_TRACE_ID = '0'.repeat(32);
const NAMES_INVALID_TRACE = /(?:^|[^0-9a-f])0{32}(?:[^0-9a-f]|$)/i;

/** What a request's headers are filtered by. */
interface Filter {
  fields: InjectFields;
  /** The session's trace id, when the trace field is denied: other tools' baggage copies of it go too. */
  traceId: string | undefined;
  /** Inside one of our hops (tracing suppressed): headers naming the all-zero trace go, whatever the destination. */
  suppressed: boolean;
}

/** The value to send for one header; undefined: the header goes. */
function filterValue(name: string, value: unknown, filter: Filter): unknown {
  const { fields, traceId, suppressed } = filter;
  if (TRACE_HEADERS.has(name)) {
    if (!fields.traceparent) return undefined;
    if (suppressed && NAMES_INVALID_TRACE.test(String(value))) return undefined;
    return value;
  }
  if (name !== 'baggage') return value;
  let out: unknown = value;
  if (!fields.baggage || !fields.traceparent) out = filterDeniedBaggage(out, !fields.baggage, fields.traceparent ? undefined : traceId);
  if (out !== undefined && suppressed) out = filterDeniedBaggage(out, false, INVALID_TRACE_ID);
  return out;
}

/** Filters `[k, v, k, v, ...]` in place. */
function filterArray(list: unknown[], filter: Filter): void {
  let w = 0;
  for (let r = 0; r < list.length; r += 2) {
    const value = filterValue(String(list[r]).toLowerCase(), list[r + 1], filter);
    if (value === undefined) continue;
    list[w++] = list[r];
    list[w++] = value;
  }
  list.length = w;
}

/** undici 5's `k: v\r\n` string form. */
function filterString(text: string, filter: Filter): string {
  let out = '';
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = filterValue(name, line.slice(colon + 1).trim(), filter);
    if (value === undefined) continue;
    out += `${line.slice(0, colon)}: ${String(value)}\r\n`;
  }
  return out;
}

function activeTraceId(): string | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc !== undefined && isSpanContextValid(sc) ? sc.traceId : undefined;
}

function traceparentIn(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'traceparent') return headers[i + 1];
    return undefined;
  }
  if (typeof headers === 'string') return /(?:^|\r\n)traceparent:\s*([^\r]*)/i.exec(headers)?.[1];
  return undefined;
}

function guardRequest(request: UndiciRequest, decide: Decider): void {
  const path = typeof request.path === 'string' ? request.path : '/';
  const q = path.indexOf('?');
  const url = String(request.origin) + (q === -1 ? path : path.slice(0, q));
  const f = decideAll(decide, [url], traceparentIn(request.headers));
  const suppressed = isTracingSuppressed(context.active());
  if (f.traceparent && f.baggage && !suppressed) return; // allowed: no accessor, nothing to pay
  const filter: Filter = { fields: f, traceId: f.traceparent ? undefined : activeTraceId(), suppressed };
  let raw = request.headers;
  Object.defineProperty(request, 'headers', {
    configurable: true,
    enumerable: true,
    get() {
      if (Array.isArray(raw)) {
        // The whole list, every read: a subscriber may rewrite an entry in place (Sentry merges
        // its members into an existing baggage value), not only push new ones. Filtering twice
        // changes nothing.
        filterArray(raw, filter);
        return raw;
      }
      if (typeof raw === 'string') raw = filterString(raw, filter);
      return raw;
    },
    set(value: unknown) {
      raw = value;
    },
  });
}

/**
 * Subscribes the guard; returns the unsubscribe function `init`'s shutdown calls. A throw in a
 * diagnostics-channel subscriber crashes the process: everything is caught.
 */
export function installUndiciGuard(decide: Decider): () => void {
  const onCreate = (message: unknown): void => {
    try {
      const request = (message as { request?: UndiciRequest } | undefined)?.request;
      if (typeof request === 'object' && request !== null) guardRequest(request, decide);
    } catch (err) {
      log.debug(`undici outbound guard failed: ${String(err)}`);
    }
  };
  // dc.subscribe holds the subscriber strongly (a channel object from dc.channel() may be collected).
  diagnosticsChannel.subscribe(CHANNEL, onCreate);
  return () => {
    diagnosticsChannel.unsubscribe(CHANNEL, onCreate);
  };
}
