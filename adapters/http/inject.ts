import { copyHeaders, type HttpHeaders } from '../../src/carriers/http.js';
import { log } from '../../src/base/diag.js';
import { addFields, outboundHop, settingsFor, type InjectSessionHeadersOptions } from './options.js';

/**
 * Headers for a request to `url` made in the current context: a NEW plain object with a copy of
 * `headers` (plain object in any case, `Headers`, or tuples; never modified) plus `traceparent`
 * and the session `baggage` where the target policy allows them. An existing `baggage` is merged
 * (its entries win, except the session entry); an existing `traceparent` is kept unless
 * `overrideTraceparent`. Starts no span: the caller's active span is the parent the target sees.
 * Malformed input is logged and left out; only invalid options throw (a TypeError).
 */
export function injectSessionHeaders(
  headers: HttpHeaders | null | undefined,
  url: string | URL,
  options?: InjectSessionHeadersOptions,
): Record<string, string> {
  const settings = settingsFor(options);
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
    addFields(out, target, outboundHop(settings, 'inject', false), settings);
  } catch (err) {
    log.warn('injectSessionHeaders failed; headers returned without context', err as Error);
  }
  return out;
}
