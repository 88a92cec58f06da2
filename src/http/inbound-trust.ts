/**
 * Inbound trust for the global `extract`. instrumentation-http starts its SERVER span from
 * `propagation.extract(ROOT_CONTEXT, request.headers)` before any route runs, so the route
 * options of sessionMiddleware come too late for it. Node publishes `http.server.request.start`
 * synchronously before `server.emit('request')` (Node 20 and 24), i.e. before that extract: a
 * subscriber judges the socket's peer and the init-level public path prefixes, and marks the
 * request's headers object, which is the very carrier extract receives (`req.headers` is the
 * same object on every read).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { log } from '../base/diag.js';
import { isInternalAddress } from './network.js';

const CHANNEL = 'http.server.request.start';

/** What the global extract may do with one request's headers. */
export type InboundVerdict = 'trust' | 'link';

const verdicts = new WeakMap<object, InboundVerdict>();

/** The verdict recorded for this carrier (a request's headers), if the channel saw the request. */
export function inboundVerdict(carrier: unknown): InboundVerdict | undefined {
  return typeof carrier === 'object' && carrier !== null ? verdicts.get(carrier) : undefined;
}

/** Whether `url` (a request target) is under one of `prefixes`, by whole path segments. */
function underPrefix(url: string, prefixes: readonly string[]): boolean {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  for (const p of prefixes) {
    if (p.endsWith('/') ? path.startsWith(p) || path === p.slice(0, -1) : path === p || path.startsWith(`${p}/`)) return true;
  }
  return false;
}

/**
 * Subscribes the verdict; returns the unsubscribe function `init`'s shutdown calls. A throw in
 * a diagnostics-channel subscriber crashes the process: everything is caught.
 */
export function installInboundTrust(publicPathPrefixes: readonly string[]): () => void {
  const onStart = (message: unknown): void => {
    try {
      const request = (message as { request?: IncomingMessage } | undefined)?.request;
      if (request === undefined || typeof request.headers !== 'object') return;
      const publicRoute = publicPathPrefixes.length > 0 && underPrefix(String(request.url ?? '/'), publicPathPrefixes);
      const trusted = !publicRoute && isInternalAddress(request.socket?.remoteAddress);
      verdicts.set(request.headers, trusted ? 'trust' : 'link');
    } catch (err) {
      log.debug(`inbound trust check failed: ${String(err)}`);
    }
  };
  diagnosticsChannel.subscribe(CHANNEL, onStart);
  return () => {
    diagnosticsChannel.unsubscribe(CHANNEL, onStart);
  };
}
