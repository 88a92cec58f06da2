/**
 * HTTP span names and attributes per the current (stable) OTel HTTP semantic conventions, for
 * the server adapters (Express, Fastify) and the fetch client alike. Header-derived values are
 * capped: a 128 KiB User-Agent must not become a 128 KiB span attribute.
 */
import type { Attributes } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import { BoundedCache } from '../base/bounded-cache.js';

/** Known methods (RFC 9110, RFC 5789 PATCH, and QUERY); any other is reported as `_OTHER`. */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
]);

/** Query keys whose values semconv says to redact in `url.full` (pre-signed URL credentials). */
const REDACTED_QUERY_KEYS: ReadonlySet<string> = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature']);

const MAX_HOST = 255;
const MAX_USER_AGENT = 1024;
const MAX_PATH = 8192;

function cap(value: string, max: number): string {
  return value.length > max ? value.slice(0, max) : value;
}

/**
 * A new attribute object holding `http.request.method` and, for an unknown method,
 * `http.request.method_original`. Callers add to it: on Node 20 an object built by spreading
 * another and then given more keys costs microseconds per request, so nothing here spreads.
 */
function methodAttributes(method: unknown): Attributes {
  const raw = typeof method === 'string' ? method : '';
  const attributes: Attributes = { 'http.request.method': KNOWN_METHODS.has(raw) ? raw : '_OTHER' };
  if (!KNOWN_METHODS.has(raw)) attributes['http.request.method_original'] = cap(raw, 64);
  return attributes;
}

/** The method as span names use it: the method, or `HTTP` for an unknown one. */
function spanMethod(method: unknown): string {
  return typeof method === 'string' && KNOWN_METHODS.has(method) ? method : 'HTTP';
}

/** Server span name: `{method} {route}`, or `{method}` when no route matched. */
export function serverSpanName(method: unknown, route: string | undefined): string {
  const m = spanMethod(method);
  return route === undefined || route.length === 0 ? m : `${m} ${route}`;
}

/** Client span name: `{method}` (a URL is not a low-cardinality name). */
export function clientSpanName(method: unknown): string {
  return spanMethod(method);
}

/** A `Host` header split: the port is undefined when the header names none. */
interface HostParts {
  address: string;
  port: number | undefined;
}

/** Host headers split recently: a server sees few distinct ones, and every request sends one. */
const parsedHosts = new BoundedCache<string, HostParts | null>(256);

/** Splits a `Host` header into address and port (`[v6]:port`, `name:port`, `name`). */
function parseHostHeader(host: unknown, defaultPort: number): { address: string; port: number } | undefined {
  if (typeof host !== 'string' || host.length === 0 || host.length > MAX_HOST) return undefined;
  let parts = parsedHosts.get(host);
  if (parts === undefined) {
    parts = splitHost(host) ?? null;
    parsedHosts.set(host, parts);
  }
  return parts === null ? undefined : { address: parts.address, port: parts.port ?? defaultPort };
}

function splitHost(host: string): HostParts | undefined {
  let address = host;
  let portText: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return undefined;
    address = host.slice(1, close);
    if (host.length > close + 1) {
      if (host[close + 1] !== ':') return undefined;
      portText = host.slice(close + 2);
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      if (host.indexOf(':') !== colon) return undefined;
      address = host.slice(0, colon);
      portText = host.slice(colon + 1);
    }
  }
  if (address.length === 0) return undefined;
  if (portText === undefined || portText.length === 0) return { address, port: undefined };
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port <= 65535 ? { address, port } : undefined;
}

function protocolVersion(httpVersion: unknown): string | undefined {
  if (typeof httpVersion !== 'string') return undefined;
  // semconv: "1.0", "1.1", "2", "3".
  if (httpVersion === '2.0') return '2';
  if (httpVersion === '3.0') return '3';
  return httpVersion;
}

/**
 * Attributes of a SERVER span known when the request arrives. `path` is the request target as
 * received (its query is cut off: `url.query` is not recorded, query strings carry secrets).
 */
export function serverRequestAttributes(req: IncomingMessage, path: string | undefined): Attributes {
  const socket = req.socket as (IncomingMessage['socket'] & { encrypted?: boolean }) | undefined;
  const scheme = socket?.encrypted === true ? 'https' : 'http';
  const attributes = methodAttributes(req.method);
  attributes['url.scheme'] = scheme;
  const target = typeof path === 'string' ? path : typeof req.url === 'string' ? req.url : undefined;
  if (target !== undefined) {
    const q = target.indexOf('?');
    attributes['url.path'] = cap(q >= 0 ? target.slice(0, q) : target, MAX_PATH);
  }
  const host = parseHostHeader(req.headers?.host, scheme === 'https' ? 443 : 80);
  if (host !== undefined) {
    attributes['server.address'] = host.address;
    attributes['server.port'] = host.port;
  }
  const peer = socket?.remoteAddress;
  if (typeof peer === 'string') {
    // The socket's peer: an X-Forwarded-For value is whatever the caller wrote, so it is not used.
    attributes['client.address'] = peer;
    attributes['network.peer.address'] = peer;
    if (typeof socket?.remotePort === 'number') attributes['network.peer.port'] = socket.remotePort;
  }
  const agent = req.headers?.['user-agent'];
  if (typeof agent === 'string') attributes['user_agent.original'] = cap(agent, MAX_USER_AGENT);
  const version = protocolVersion(req.httpVersion);
  if (version !== undefined) attributes['network.protocol.version'] = version;
  return attributes;
}

/**
 * `url.full` as semconv wants it: credentials replaced by `REDACTED`, the values of pre-signed
 * URL signature keys redacted, no fragment (it is never sent).
 */
function redactedUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = '';
  if (copy.username !== '') copy.username = 'REDACTED';
  if (copy.password !== '') copy.password = 'REDACTED';
  if (copy.search !== '') {
    // Only touched when needed: searchParams.set re-encodes the whole query.
    for (const key of REDACTED_QUERY_KEYS) if (copy.searchParams.has(key)) copy.searchParams.set(key, 'REDACTED');
  }
  return copy.href;
}

/** Attributes of a CLIENT span known before the request is sent. */
export function clientRequestAttributes(method: unknown, url: URL): Attributes {
  const defaultPort = url.protocol === 'https:' ? 443 : 80;
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const attributes = methodAttributes(method);
  attributes['url.full'] = redactedUrl(url);
  attributes['server.address'] = hostname;
  attributes['server.port'] = url.port === '' ? defaultPort : Number(url.port);
  return attributes;
}

/** Semconv `error.type` for a response status that counts as a failure, else undefined. */
export function statusErrorType(status: number, kind: 'server' | 'client'): string | undefined {
  return status >= 500 || (kind === 'client' && status >= 400) ? String(status) : undefined;
}
