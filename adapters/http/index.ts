/**
 * Outgoing HTTP: `sessionFetch` wraps a fetch, `injectSessionHeaders` serves any other client.
 * Both apply the target policy to every destination: fetch forwards the request's headers to
 * wherever a redirect points, so `sessionFetch` follows redirects itself and decides again for
 * each hop.
 */
import { context as otelContext, SpanKind, SpanStatusCode, type TextMapPropagator } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { copyHeaders, mergeOutboundFields, type HttpHeaders } from '../../src/carriers/http.js';
import { log } from '../../src/base/diag.js';
import { startOutboundHop } from '../../src/hop/outbound.js';
import { type OutboundHop } from '../../src/hop/types.js';
import { clientRequestAttributes, clientSpanName, statusErrorType } from '../../src/http/semconv.js';
import { createKeyring, type SigningKeyOption, type SigningKeyring } from '../../src/policy/signing.js';
import { createTargetPolicy, type TargetPolicy, type TargetPolicyOptions } from '../../src/http/targets.js';

export { createTargetPolicy, type TargetMatcher, type TargetPolicy, type TargetPolicyOptions } from '../../src/http/targets.js';
export { classifyAddress, isClusterLocalHostname, isInternalAddress, isInternalHost, type AddressClass } from '../../src/http/network.js';
export type { HttpHeaders } from '../../src/carriers/http.js';

/** Options shared by {@link sessionFetch} and {@link injectSessionHeaders}. */
export interface OutboundHttpOptions extends TargetPolicyOptions {
  /** Replace a `traceparent` (with its `tracestate`) the request already carries (default false: keep it). */
  override?: boolean;
  /** Key signing the session entry; undefined = the one from `init`, null = none. */
  signingKey?: SigningKeyOption | SigningKeyring | null;
  /** Propagator to inject with (default: the library's). */
  propagator?: TextMapPropagator;
}

/** Options of {@link sessionFetch}. */
export interface SessionFetchOptions extends OutboundHttpOptions {
  /** Most redirects followed before the call fails as fetch does (default 20, fetch's own limit). */
  maxRedirects?: number;
}

/** Options of {@link injectSessionHeaders}. */
export type InjectSessionHeadersOptions = OutboundHttpOptions;

/** A fetch function: the global one or any compatible implementation. */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

interface Compiled {
  policy: TargetPolicy;
  override: boolean;
  signing: SigningKeyring | null | undefined;
  propagator: TextMapPropagator | undefined;
}

function compile(options: OutboundHttpOptions | undefined, where: string): Compiled {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new TypeError(`agentops-propagation: ${where} options must be an object`);
  const o = options ?? {};
  if (o.override !== undefined && typeof o.override !== 'boolean') throw new TypeError(`agentops-propagation: ${where} override must be a boolean`);
  if (o.propagator !== undefined && (o.propagator === null || typeof o.propagator.inject !== 'function')) {
    throw new TypeError(`agentops-propagation: ${where} propagator must be a TextMapPropagator`);
  }
  return {
    policy: createTargetPolicy(o),
    override: o.override === true,
    signing: o.signingKey === undefined ? undefined : o.signingKey === null ? null : createKeyring(o.signingKey),
    propagator: o.propagator,
  };
}

// injectSessionHeaders is called per request with the same options object, usually.
const compiledOptions = new WeakMap<object, Compiled>();
let compiledDefaults: Compiled | undefined;

function compiledFor(options: InjectSessionHeadersOptions | undefined): Compiled {
  if (options === undefined) return (compiledDefaults ??= compile(undefined, 'injectSessionHeaders'));
  let compiled = typeof options === 'object' && options !== null ? compiledOptions.get(options) : undefined;
  if (compiled === undefined) {
    compiled = compile(options, 'injectSessionHeaders');
    compiledOptions.set(options, compiled);
  }
  return compiled;
}

function outboundHop(compiled: Compiled, spanName: string, startSpan: boolean, attributes?: ReturnType<typeof clientRequestAttributes>): OutboundHop {
  return startOutboundHop({
    spanName,
    kind: SpanKind.CLIENT,
    startSpan,
    ...(attributes !== undefined ? { attributes } : {}),
    ...(compiled.signing !== undefined ? { signing: compiled.signing } : {}),
    ...(compiled.propagator !== undefined ? { propagator: compiled.propagator } : {}),
  });
}

/** Our fields for `url` merged into `headers` (a copy we own), as the policy allows. */
function addFields(headers: Record<string, string>, url: URL, hop: OutboundHop, compiled: Compiled): void {
  const fields = compiled.policy.fieldsFor(url);
  if (!fields.traceparent && !fields.baggage) return;
  mergeOutboundFields(headers, hop.fields(fields), { override: compiled.override });
}

/**
 * Headers for a request to `url` made in the current context: a NEW plain object with a copy of
 * `headers` (plain object in any case, `Headers`, or tuples; never modified) plus `traceparent`
 * and the session `baggage` where the target policy allows them. An existing `baggage` is merged
 * (its entries win, except the session entry); an existing `traceparent` is kept unless
 * `override`. Starts no span: the caller's active span is the parent the target sees.
 * Malformed input is logged and left out; only invalid options throw (a TypeError).
 */
export function injectSessionHeaders(headers: HttpHeaders | null | undefined, url: string | URL, options?: InjectSessionHeadersOptions): Record<string, string> {
  const compiled = compiledFor(options);
  let out: Record<string, string> = {};
  try {
    out = copyHeaders(headers);
    let target: URL;
    try {
      target = url instanceof URL ? url : new URL(String(url));
    } catch {
      log.warn('injectSessionHeaders: url is not an absolute URL; no context added');
      return out;
    }
    addFields(out, target, outboundHop(compiled, 'inject', false), compiled);
  } catch (err) {
    log.warn('injectSessionHeaders failed; headers returned without context', err as Error);
  }
  return out;
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'];
// The Fetch standard drops Authorization across origins; undici also drops these.
const CROSS_ORIGIN_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'host'];
const NORMALIZED_METHODS: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

function deleteNames(headers: Record<string, string>, names: readonly string[]): void {
  for (const key of Object.keys(headers)) if (names.includes(key.toLowerCase())) delete headers[key];
}

/** A `Request`, this realm's or another fetch implementation's (undici's own, a polyfill's). */
function isRequest(value: unknown): value is Request {
  if (typeof Request === 'function' && value instanceof Request) return true;
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof URL) &&
    typeof (value as Request).url === 'string' &&
    typeof (value as Request).method === 'string' &&
    typeof (value as Request).clone === 'function'
  );
}

function networkError(message: string): TypeError {
  return new TypeError('fetch failed', { cause: new Error(message) });
}

function isReplayable(body: unknown): boolean {
  return !(typeof ReadableStream === 'function' && body instanceof ReadableStream) && !(typeof body === 'object' && body !== null && Symbol.asyncIterator in body);
}

interface CallState {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: RequestInit['body'];
  /** A clone of a `Request` input kept to resend its body on a 307/308; cloned again per use. */
  replay: Request | undefined;
}

/**
 * A fetch that carries the session: one CLIENT span per call, `traceparent` and the session
 * `baggage` on each request the target policy allows, the caller's `Request` / init headers
 * copied, never modified. With `redirect: 'follow'` (the default) it follows redirects itself
 * (301/302/303 switch to GET as fetch does; Authorization and cookies are dropped across
 * origins) and applies the policy again to every hop, so a redirect to a public host gets none
 * of our headers. `redirect: 'manual'` and `'error'` are passed to `fetchImpl` unchanged. The
 * underlying fetch runs with tracing suppressed, so fetch instrumentations add no second span.
 * Throws a TypeError on invalid options; request errors are the fetch's own, rethrown unchanged.
 */
export function sessionFetch(fetchImpl?: FetchFunction, options?: SessionFetchOptions): FetchFunction {
  if (fetchImpl !== undefined && typeof fetchImpl !== 'function') throw new TypeError('agentops-propagation: sessionFetch expects a fetch function');
  const compiled = compile(options, 'sessionFetch');
  const maxRedirects = options?.maxRedirects ?? 20;
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) throw new TypeError('agentops-propagation: sessionFetch maxRedirects must be a non-negative integer');

  return async function agentopsFetch(input, init) {
    const doFetch: FetchFunction = fetchImpl ?? globalThis.fetch;
    const request = isRequest(input) ? input : undefined;
    let url: URL;
    try {
      url = new URL(request !== undefined ? request.url : input instanceof URL ? input.href : String(input));
    } catch {
      // Not a URL we can reason about: fetch reports it in its own words.
      return doFetch(input, init);
    }
    const rawMethod = init?.method ?? request?.method ?? 'GET';
    const method = NORMALIZED_METHODS.has(rawMethod.toUpperCase()) ? rawMethod.toUpperCase() : rawMethod;
    const mode = init?.redirect ?? request?.redirect ?? 'follow';
    const follow = mode === 'follow';

    const hop = outboundHop(compiled, clientSpanName(method), true, clientRequestAttributes(method, url));
    const quiet = suppressTracing(hop.context);
    let redirects = 0;
    try {
      const state: CallState = {
        url,
        method,
        headers: copyHeaders((init?.headers ?? request?.headers) as HttpHeaders | undefined),
        body: init?.body,
        replay: undefined,
      };
      if (follow && request !== undefined && init?.body === undefined && request.body !== null) {
        try {
          state.replay = request.clone();
        } catch {
          state.replay = undefined;
        }
      }
      let response: Response;
      for (;;) {
        const headers = { ...state.headers };
        addFields(headers, state.url, hop, compiled);
        response = await otelContext.with(quiet, () =>
          redirects === 0
            ? doFetch(input, { ...init, headers, redirect: follow ? 'manual' : mode })
            : doFetch(state.url.href, followInit(init, request, state, headers)),
        );
        if (!follow || !REDIRECT_STATUSES.has(response.status)) break;
        const location = response.headers.get('location');
        if (location === null) break;
        await nextHop(state, response, location, redirects, maxRedirects);
        redirects++;
      }
      // The kept copy of a Request body is not needed any more.
      void state.replay?.body?.cancel().catch(() => undefined);
      if (redirects > 0) markRedirected(response);
      const type = statusErrorType(response.status, 'client');
      hop.end({
        attributes: {
          'http.response.status_code': response.status,
          ...(redirects > 0 ? { 'http.request.resend_count': redirects } : {}),
          ...(type !== undefined ? { 'error.type': type } : {}),
        },
        ...(type !== undefined ? { status: SpanStatusCode.ERROR } : {}),
      });
      return response;
    } catch (err) {
      hop.end({ error: err, attributes: { 'error.type': err instanceof Error ? err.name : '_OTHER' } });
      throw err;
    }
  };
}

/** Init for a redirect hop: the caller's options (signal, dispatcher...) with this hop's method, headers, body. */
function followInit(init: RequestInit | undefined, request: Request | undefined, state: CallState, headers: Record<string, string>): RequestInit {
  const out: RequestInit & { duplex?: string } = { ...init, method: state.method, headers, redirect: 'manual' };
  if (init?.signal === undefined && request !== undefined) out.signal = request.signal;
  if (state.body === undefined && state.replay !== undefined) {
    const copy = state.replay.clone();
    out.body = copy.body;
    out.duplex = 'half';
  } else if (state.body === undefined || state.body === null) {
    delete out.body;
  } else out.body = state.body;
  return out;
}

/** Moves `state` to the redirect target, as the Fetch standard's HTTP-redirect fetch does. */
async function nextHop(state: CallState, response: Response, location: string, redirects: number, maxRedirects: number): Promise<void> {
  // The redirect's own body is never read: release the connection.
  await response.body?.cancel().catch(() => undefined);
  let target: URL;
  try {
    target = new URL(location, state.url);
  } catch {
    throw networkError(`invalid redirect location ${JSON.stringify(location.slice(0, 200))}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw networkError('redirect to a non-HTTP(S) URL');
  if (redirects + 1 > maxRedirects) throw networkError('redirect count exceeded');
  const status = response.status;
  const hasBody = (state.body !== undefined && state.body !== null) || state.replay !== undefined;
  if ((status === 303 && state.method !== 'GET' && state.method !== 'HEAD') || ((status === 301 || status === 302) && state.method === 'POST')) {
    state.method = 'GET';
    state.body = undefined;
    state.replay = undefined;
    deleteNames(state.headers, BODY_HEADERS);
  } else if (hasBody && state.replay === undefined && !isReplayable(state.body)) {
    throw networkError('cannot replay a streamed request body on a 307/308 redirect');
  }
  if (target.origin !== state.url.origin) deleteNames(state.headers, CROSS_ORIGIN_HEADERS);
  state.url = target;
}

function markRedirected(response: Response): void {
  try {
    // The caller asked fetch to follow; what it gets back must say it was redirected.
    Object.defineProperty(response, 'redirected', { value: true, configurable: true });
  } catch (err) {
    log.debug(`could not mark the response as redirected: ${String(err)}`);
  }
}
