/**
 * `sessionFetch`: a fetch that carries the session and applies the target policy to every
 * destination. fetch forwards the request's headers to wherever a redirect points, so
 * `sessionFetch` follows redirects itself and decides again for each hop.
 */
import { context as otelContext, SpanStatusCode } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { log } from '../../src/base/diag.js';
import { copyHeaders, type HttpHeaders } from '../../src/carriers/http.js';
import { clientRequestAttributes, clientSpanName, statusErrorType } from '../../src/http/semconv.js';
import { configError } from '../../src/policy/config-error.js';
import { countOption } from '../../src/policy/options.js';
import { addFields, outboundHop, outboundSettings, type FetchFunction, type SessionFetchOptions } from './options.js';

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
  return (
    !(typeof ReadableStream === 'function' && body instanceof ReadableStream) &&
    !(typeof body === 'object' && body !== null && Symbol.asyncIterator in body)
  );
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
  if (fetchImpl !== undefined && typeof fetchImpl !== 'function') configError('sessionFetch', 'expects a fetch function');
  const settings = outboundSettings(options, 'sessionFetch');
  const maxRedirects = countOption(options?.maxRedirects, 'sessionFetch maxRedirects', 20);

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

    const hop = outboundHop(settings, clientSpanName(method), true, clientRequestAttributes(method, url));
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
        addFields(headers, state.url, hop, settings);
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
      hop.end({ error: err });
      throw err;
    }
  };
}

/** Init for a redirect hop: the caller's options (signal, dispatcher...) with this hop's method, headers, body. */
function followInit(
  init: RequestInit | undefined,
  request: Request | undefined,
  state: CallState,
  headers: Record<string, string>,
): RequestInit {
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
  if (
    (status === 303 && state.method !== 'GET' && state.method !== 'HEAD') ||
    ((status === 301 || status === 302) && state.method === 'POST')
  ) {
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
