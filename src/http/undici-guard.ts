/**
 * The outbound guard for undici and global fetch (Node's bundled undici and the npm package
 * publish on the same channel names). `undici:request:create` gives origin and path; other
 * subscribers of that channel (instrumentation-undici) add their headers after us, and undici
 * serializes the header block synchronously from `request.headers` with no channel in between.
 * So, for a denied destination only, that one request's `headers` becomes an accessor whose
 * getter filters in place: every later push goes through it, and the writer reads it last.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { InjectFields } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { decideAll, TRACE_HEADERS, withoutOurBaggage, type Decider } from './guarded-headers.js';

const CHANNEL = 'undici:request:create';

interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  headers?: unknown;
}

/** Filters `[k, v, k, v, ...]` in place from index `from` (earlier entries were filtered by an earlier read). */
function filterArray(list: unknown[], f: InjectFields, from: number): void {
  let w = from;
  for (let r = from; r < list.length; r += 2) {
    const name = String(list[r]).toLowerCase();
    let value = list[r + 1];
    if (!f.traceparent && TRACE_HEADERS.has(name)) continue;
    if (!f.baggage && name === 'baggage') {
      value = withoutOurBaggage(value);
      if (value === undefined) continue;
    }
    list[w++] = list[r];
    list[w++] = value;
  }
  list.length = w;
}

/** undici 5's `k: v\r\n` string form. */
function filterString(text: string, f: InjectFields): string {
  let out = '';
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    let value: string | undefined = line.slice(colon + 1).trim();
    if (!f.traceparent && TRACE_HEADERS.has(name)) continue;
    if (!f.baggage && name === 'baggage') {
      value = withoutOurBaggage(value);
      if (value === undefined) continue;
    }
    out += `${line.slice(0, colon)}: ${value}\r\n`;
  }
  return out;
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
  if (f.traceparent && f.baggage) return; // allowed: no accessor, nothing to pay
  let raw = request.headers;
  let clean = 0;
  Object.defineProperty(request, 'headers', {
    configurable: true,
    enumerable: true,
    get() {
      if (Array.isArray(raw)) {
        if (raw.length < clean) clean = 0;
        filterArray(raw, f, clean);
        clean = raw.length;
        return raw;
      }
      if (typeof raw === 'string') raw = filterString(raw, f);
      return raw;
    },
    set(value: unknown) {
      raw = value;
      clean = 0;
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
