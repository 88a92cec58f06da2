/**
 * Outbound target policy: which destinations receive `traceparent` (with `tracestate`) and which
 * receive `baggage` (with the session entry). The trace id IS the session id, so a third party
 * that gets either can tie requests to the session: by default only internal destinations do.
 *
 * Lessons from other tools: Sentry's substring matching once sent headers to a host named in a
 * query string, so matching here never looks at the query; RegExps with `g`/`y` flags keep
 * `lastIndex` between calls and match only every other request, so they are cloned without them.
 */
import type { InjectFields } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { isInternalHost } from './network.js';

/**
 * One allowlist entry:
 * - a string (or `URL`) with an empty path (`https://api.example.com`): that exact origin
 *   (scheme, host and port);
 * - a string with a path (`https://api.example.com/v1/`): that origin and paths under it; a
 *   prefix without a trailing `/` matches whole segments only (`/v1` matches `/v1` and `/v1/x`,
 *   never `/v10`). Query and fragment are not allowed in it and never looked at;
 * - a RegExp anchored with `^`, tested against origin + path (`https://host:port/path`, no query);
 * - a function of the destination URL, returning true to allow.
 */
export type TargetMatcher = string | URL | RegExp | ((url: URL) => boolean);

/** Allowlists of the outbound target policy. */
export interface TargetPolicyOptions {
  /** Destinations that get both traceparent and baggage, besides the internal ones. */
  targets?: readonly TargetMatcher[];
  /** Destinations that get traceparent and tracestate, besides the internal ones and `targets`. */
  traceparentTargets?: readonly TargetMatcher[];
  /** Destinations that get baggage, besides the internal ones and `targets`. */
  baggageTargets?: readonly TargetMatcher[];
  /** Whether loopback / private-network IP literals and cluster-local host names get both (default true). */
  internalTargets?: boolean;
}

/** A compiled, validated target policy. */
export interface TargetPolicy {
  /** Which W3C fields a request to `url` may carry; none for an unparsable or non-HTTP URL. */
  fieldsFor(url: string | URL): InjectFields;
}

type Matcher = (url: URL, originAndPath: string) => boolean;

const NONE: Readonly<InjectFields> = Object.freeze({ traceparent: false, baggage: false });
const BOTH: Readonly<InjectFields> = Object.freeze({ traceparent: true, baggage: true });

function isHttpUrl(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

function compileString(text: string, where: string): Matcher {
  if (text.includes('?') || text.includes('#')) {
    throw new TypeError(
      `agentops-propagation: ${where} "${text}" must not contain a query or fragment: targets match origin and path only`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new TypeError(`agentops-propagation: ${where} "${text}" is not an absolute URL (write the scheme: "https://${text}")`);
  }
  if (!isHttpUrl(parsed)) throw new TypeError(`agentops-propagation: ${where} "${text}" must be an http: or https: URL`);
  if (parsed.username !== '' || parsed.password !== '') throw new TypeError(`agentops-propagation: ${where} must not contain credentials`);
  const origin = parsed.origin;
  const prefix = parsed.pathname;
  if (prefix === '/') return (url) => url.origin === origin;
  const segmentPrefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return (url) => url.origin === origin && (url.pathname === prefix || url.pathname.startsWith(segmentPrefix));
}

function compileRegExp(re: RegExp, where: string): Matcher {
  if (!re.source.startsWith('^')) {
    throw new TypeError(`agentops-propagation: ${where} ${String(re)} must be anchored with ^ (it is tested against origin + path)`);
  }
  // A private clone without g/y: a shared RegExp's lastIndex would make every other test fail.
  const own = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
  return (_url, originAndPath) => own.test(originAndPath);
}

function compileFunction(fn: (url: URL) => boolean): Matcher {
  return (url) => {
    try {
      // A copy, so that a predicate that edits its argument cannot change what later ones see.
      return fn(new URL(url.href)) === true;
    } catch (err) {
      log.warn('target predicate threw; treating the target as not allowed', err as Error);
      return false;
    }
  };
}

function compileList(list: unknown, where: string): Matcher[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new TypeError(`agentops-propagation: ${where} must be an array of strings, RegExps or functions`);
  return list.map((entry: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof entry === 'string') return compileString(entry, at);
    if (entry instanceof URL) return compileString(entry.href, at);
    if (entry instanceof RegExp) return compileRegExp(entry, at);
    if (typeof entry === 'function') return compileFunction(entry as (url: URL) => boolean);
    throw new TypeError(`agentops-propagation: ${at} must be a string, URL, RegExp or function, got ${typeof entry}`);
  });
}

function matchesAny(matchers: readonly Matcher[], url: URL, originAndPath: string): boolean {
  for (const matcher of matchers) if (matcher(url, originAndPath)) return true;
  return false;
}

/**
 * Builds a target policy. Throws a TypeError on a malformed allowlist (a bad target is a
 * configuration error, not something to discover from a leak). Never looks names up in DNS.
 */
export function createTargetPolicy(options: TargetPolicyOptions = {}): TargetPolicy {
  if (options === null || typeof options !== 'object') throw new TypeError('agentops-propagation: target policy options must be an object');
  const internal = options.internalTargets ?? true;
  if (typeof internal !== 'boolean') throw new TypeError('agentops-propagation: internalTargets must be a boolean');
  const both = compileList(options.targets, 'targets');
  const traceparentOnly = compileList(options.traceparentTargets, 'traceparentTargets');
  const baggageOnly = compileList(options.baggageTargets, 'baggageTargets');

  return {
    fieldsFor(target) {
      let url: URL;
      try {
        url = target instanceof URL ? target : new URL(String(target));
      } catch {
        log.debug('outbound target is not a URL; no context sent');
        return { ...NONE };
      }
      if (!isHttpUrl(url)) return { ...NONE };
      if (internal && isInternalHost(url.hostname)) return { ...BOTH };
      const originAndPath = url.origin + url.pathname;
      if (matchesAny(both, url, originAndPath)) return { ...BOTH };
      return {
        traceparent: matchesAny(traceparentOnly, url, originAndPath),
        baggage: matchesAny(baggageOnly, url, originAndPath),
      };
    },
  };
}
