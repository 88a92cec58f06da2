/**
 * The outbound guard for node:http and node:https: the one place this library patches Node.
 *
 * Stock instrumentation (instrumentation-http) calls the global propagator for every request
 * with a bare header object: the propagator cannot know the destination, the client can. No
 * diagnostics channel fires early enough on Node 20 (`http.client.request.start` fires after the
 * header block is serialized, removing a header then throws; `http.client.request.created` does
 * not exist before Node 22 and misses array headers and `Expect` where it does). So this module
 * overrides `ClientRequest.prototype._storeHeader`, the single place every ClientRequest header
 * block is serialized: it runs after any wrapper of `http.request` and any later `setHeader`,
 * whatever the registration order, sampled or not. It is an own property of
 * ClientRequest.prototype, so ServerResponse keeps OutgoingMessage's method.
 *
 * Other libraries wrap the same method (Sentry's HTTP integration injects `sentry-trace` and
 * `baggage` with `setHeader` inside its wrapper). A wrapper installed after ours runs first and
 * is guarded as any header is; one installed before ours sits between us and Node, so while it
 * runs the request's `setHeader` is held to the same decision. Uninstalling restores what was
 * there and never removes another library's wrapper: when one wraps ours, ours stays in its
 * chain and passes everything through.
 */
import http from 'node:http';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { log } from '../base/diag.js';
import { carriesTraceId, decideAll, filterDeniedBaggage, GUARDED_HEADERS, TRACE_HEADERS, type Decider } from './guarded-headers.js';

type StoreHeader = (this: http.ClientRequest, firstLine: string, headers: unknown) => unknown;

interface RequestLike {
  path?: unknown;
  protocol?: unknown;
  host?: unknown;
  getHeader(name: string): unknown;
  removeHeader(name: string): void;
  setHeader(name: string, value: unknown): unknown;
}

/** The trace id of the active span (the session's, inside a session), for the value scan. */
function activeTraceId(): string | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc !== undefined && isSpanContextValid(sc) ? sc.traceId : undefined;
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  const colon = hostHeader.lastIndexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

/** Destination URLs (origin + path, no query) the policy is asked about; each must allow a field. */
function destinations(req: RequestLike, hostHeader: string | undefined): string[] {
  const raw = typeof req.path === 'string' ? req.path : '/';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  if (/^https?:\/\//i.test(path)) return [path]; // absolute form: a forward proxy
  const protocol = req.protocol === 'https:' ? 'https:' : 'http:';
  const connectHost = typeof req.host === 'string' ? req.host : 'localhost';
  const p = path.startsWith('/') ? path : `/${path}`;
  const bracketed = connectHost.includes(':') ? `[${connectHost}]` : connectHost;
  if (hostHeader === undefined || hostHeader === '') return [`${protocol}//${bracketed}${p}`];
  // Node writes Host as host[:port], default port omitted: exactly a URL authority.
  if (hostnameOf(hostHeader).toLowerCase() === connectHost.toLowerCase()) return [`${protocol}//${hostHeader}${p}`];
  // A custom Host: judge both where the bytes go and the name the server sees.
  return [`${protocol}//${bracketed}${p}`, `${protocol}//${hostHeader}${p}`];
}

/** Object headers: ClientRequest's null-prototype `{ lowercased: [name, value] }`, edited through the public API. */
function guardObject(req: RequestLike, headers: Record<string, [string, unknown] | undefined>, decide: Decider): void {
  let any = false;
  for (const name of GUARDED_HEADERS) if (headers[name] !== undefined) any = true;
  if (!any) return;
  const host = headers.host === undefined ? undefined : String(headers.host[1]);
  const f = decideAll(decide, destinations(req, host), headers.traceparent?.[1]);
  if (!f.traceparent) {
    const traceId = activeTraceId();
    for (const name of Object.keys(headers)) {
      if (TRACE_HEADERS.has(name) || (name !== 'baggage' && carriesTraceId(headers[name]?.[1], traceId))) req.removeHeader(name);
    }
  }
  if ((!f.baggage || !f.traceparent) && headers.baggage !== undefined) {
    const kept = filterDeniedBaggage(headers.baggage[1], !f.baggage, f.traceparent ? undefined : activeTraceId());
    if (kept === undefined) req.removeHeader('baggage');
    else req.setHeader('baggage', kept);
  }
}

/** Array headers (`headers: [[k, v], ...]` or a flat `[k, v, ...]`): a filtered copy. */
function guardArray(req: RequestLike, headers: unknown[], decide: Decider): unknown[] {
  const pairs = headers.length > 0 && Array.isArray(headers[0]);
  const step = pairs ? 1 : 2;
  const nameAt = (i: number): string => String(pairs ? (headers[i] as unknown[])[0] : headers[i]).toLowerCase();
  const valueAt = (i: number): unknown => (pairs ? (headers[i] as unknown[])[1] : headers[i + 1]);
  let any = false;
  let host: string | undefined;
  let traceparent: unknown;
  for (let i = 0; i < headers.length; i += step) {
    const name = nameAt(i);
    if (GUARDED_HEADERS.includes(name)) any = true;
    if (name === 'host') host = String(valueAt(i));
    if (name === 'traceparent') traceparent = valueAt(i);
  }
  if (!any) return headers;
  const f = decideAll(decide, destinations(req, host), traceparent);
  const traceId = f.traceparent ? undefined : activeTraceId();
  const out: unknown[] = [];
  for (let i = 0; i < headers.length; i += step) {
    const name = nameAt(i);
    let value = valueAt(i);
    if (!f.traceparent && (TRACE_HEADERS.has(name) || (name !== 'baggage' && carriesTraceId(value, traceId)))) continue;
    if ((!f.baggage || !f.traceparent) && name === 'baggage') {
      value = filterDeniedBaggage(value, !f.baggage, f.traceparent ? undefined : (traceId ?? activeTraceId()));
      if (value === undefined) continue;
    }
    if (pairs) out.push([(headers[i] as unknown[])[0], value]);
    else out.push(headers[i], value);
  }
  return out;
}

/**
 * While a wrapper beneath ours serializes: its `setHeader` calls on this request are held to the
 * decision for this request's destination. Returns the function that ends the hold.
 */
function holdSetHeader(req: RequestLike, decide: Decider): () => void {
  const protoSetHeader = req.setHeader;
  const held = function setHeader(this: RequestLike, name: string, value: unknown): unknown {
    const lower = String(name).toLowerCase();
    if (!GUARDED_HEADERS.includes(lower)) return protoSetHeader.call(this, name, value);
    const host = this.getHeader('host');
    const f = decideAll(decide, destinations(this, host === undefined ? undefined : String(host)), this.getHeader('traceparent'));
    if (!f.traceparent && TRACE_HEADERS.has(lower)) return this;
    if (lower === 'baggage' && (!f.baggage || !f.traceparent)) {
      const kept = filterDeniedBaggage(value, !f.baggage, f.traceparent ? undefined : activeTraceId());
      if (kept === undefined) {
        this.removeHeader('baggage');
        return this;
      }
      return protoSetHeader.call(this, name, kept);
    }
    return protoSetHeader.call(this, name, value);
  };
  Object.defineProperty(req, 'setHeader', { value: held, writable: true, configurable: true, enumerable: false });
  return () => void delete (req as unknown as Record<string, unknown>).setHeader;
}

const INSTALLED = Symbol.for('agentops-propagation.http-client-guard');

interface Installed {
  /** The decision; undefined once uninstalled while another wrapper still calls ours. */
  decide: Decider | undefined;
  original: StoreHeader;
  /** Our function, to tell whether it is still the prototype's own `_storeHeader`. */
  ours: StoreHeader;
  /** The own `_storeHeader` ours replaced (a wrapper installed before us), restored on uninstall. */
  replaced: StoreHeader | undefined;
  /** Whether `original` is a wrapper rather than Node's method (then `setHeader` is held while it runs). */
  wrapsAnother: boolean;
}

/**
 * Installs the guard (once per process; a second call replaces the decision). Returns the
 * uninstall function `init`'s shutdown calls.
 */
export function installHttpClientGuard(decide: Decider): () => void {
  const proto = http.ClientRequest.prototype as unknown as Record<string | symbol, unknown>;
  const present = proto[INSTALLED] as Installed | undefined;
  if (present !== undefined) {
    present.decide = decide;
    return () => uninstall(proto);
  }
  const hasOwn = Object.prototype.hasOwnProperty.call(proto, '_storeHeader');
  const original = proto._storeHeader as StoreHeader;
  const nodeMethod = (http.OutgoingMessage.prototype as unknown as Record<string, unknown>)._storeHeader;
  const state: Installed = {
    decide,
    original,
    ours: _storeHeader,
    replaced: hasOwn ? original : undefined,
    wrapsAnother: original !== nodeMethod,
  };
  function _storeHeader(this: http.ClientRequest, firstLine: string, headers: unknown): unknown {
    const decideNow = state.decide;
    if (decideNow === undefined) return original.call(this, firstLine, headers);
    let out = headers;
    if (headers !== null && typeof headers === 'object') {
      try {
        if (Array.isArray(headers)) out = guardArray(this as unknown as RequestLike, headers, decideNow);
        else guardObject(this as unknown as RequestLike, headers as Record<string, [string, unknown]>, decideNow);
      } catch (err) {
        // Never break the request; fail closed on the trace headers.
        log.debug(`outbound guard failed; trace headers removed: ${String(err)}`);
        if (!Array.isArray(headers)) for (const name of TRACE_HEADERS) this.removeHeader(name);
      }
    }
    if (!state.wrapsAnother) return original.call(this, firstLine, out);
    const release = holdSetHeader(this as unknown as RequestLike, decideNow);
    try {
      return original.call(this, firstLine, out);
    } finally {
      release();
    }
  }
  Object.defineProperty(proto, '_storeHeader', { value: _storeHeader, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(proto, INSTALLED, { value: state, configurable: true });
  return () => uninstall(proto);
}

function uninstall(proto: Record<string | symbol, unknown>): void {
  const state = proto[INSTALLED] as Installed | undefined;
  if (state === undefined) return;
  if (proto._storeHeader !== state.ours) {
    // Another library wrapped ours after install: removing ours would remove its wrapper too.
    // Ours stays in its chain, passing everything through, and a later install reuses it.
    state.decide = undefined;
    return;
  }
  // Put back what ours replaced: another library's wrapper, or (by deleting the own property)
  // OutgoingMessage's method.
  if (state.replaced !== undefined)
    Object.defineProperty(proto, '_storeHeader', { value: state.replaced, writable: true, configurable: true, enumerable: false });
  else delete proto._storeHeader;
  delete proto[INSTALLED];
}
