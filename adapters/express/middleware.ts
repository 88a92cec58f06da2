/**
 * Express 4 and 5: one middleware that starts the request's inbound hop and runs the rest of the
 * chain (routers, route handlers, error handlers, and everything they await) in its context.
 *
 * The chain runs inside `context.with(hopContext, next)`: Express calls the following layers
 * from within `next`, and async continuations keep the context they were created in. No
 * `AsyncLocalStorage.enterWith`: it would leak the context into whatever the socket does next.
 */
import { context as otelContext } from '@opentelemetry/api';
import type { Request } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  HTTP_SERVER_HOP,
  resolveHttpServerOptions,
  startHttpServerHop,
  type HttpServerHop,
  type HttpServerOptions,
  warnIfShadowed,
} from '../../src/http/server-hop.js';
import { log } from '../../src/base/diag.js';

/** Options of {@link sessionMiddleware}; trust and shape functions receive the Express request. */
export type SessionMiddlewareOptions = HttpServerOptions<Request>;

/** Express's `next`, as both major versions call it. */
export type NextCallback = (err?: unknown) => void;

/** The middleware: `app.use(sessionMiddleware())` (plain Express middleware shape, 4 and 5). */
export type SessionMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextCallback) => void;

/** The companion error middleware (four parameters, so Express calls it with errors only). */
export type SessionErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: NextCallback) => void;

interface RoutedRequest extends IncomingMessage {
  originalUrl?: unknown;
  baseUrl?: unknown;
  route?: { path?: unknown };
  [HTTP_SERVER_HOP]?: HttpServerHop;
}

/**
 * The route template of the matched route, mount path included (`/api` + `/users/:id`). Express
 * knows it only once routing reached a route, so it is read when the response finishes. A mount
 * path with parameters appears as matched (Express keeps no template for it).
 */
function expressRoute(req: RoutedRequest): string | undefined {
  const path = req.route?.path;
  if (path === undefined || path === null) return undefined;
  const template = typeof path === 'string' ? path : Array.isArray(path) ? path.map(String).join(',') : String(path);
  const base = typeof req.baseUrl === 'string' ? req.baseUrl : '';
  if (base.length === 0) return template;
  return template === '/' ? base : base + template;
}

function hopOf(req: IncomingMessage): HttpServerHop | undefined {
  return (req as RoutedRequest)[HTTP_SERVER_HOP];
}

/**
 * Express middleware (4 and 5): extracts the caller's context under the trust policy, starts the
 * SERVER span (or adopts instrumentation-http's), and runs the rest of the chain in the hop's
 * context. Mount it first. Mounted more than once on a request's path (app and router), the
 * first one to see the request decides (the diag logger warns once when a later one's trust
 * differs); per-route trust is a trust function or one middleware per router. Throws a TypeError on invalid options.
 */
export function sessionMiddleware(options?: SessionMiddlewareOptions): SessionMiddleware {
  const config = resolveHttpServerOptions<Request>(options, 'sessionMiddleware');
  return function agentopsSession(req, res, next) {
    const routed = req as RoutedRequest;
    const existing = hopOf(req);
    if (existing !== undefined) {
      warnIfShadowed(existing, req, config, req as Request, typeof routed.originalUrl === 'string' ? routed.originalUrl : undefined);
      next();
      return;
    }
    const hop = startHttpServerHop(req, res, config, {
      request: req as Request,
      path: typeof routed.originalUrl === 'string' ? routed.originalUrl : req.url,
      lateRoute: () => expressRoute(routed),
    });
    if (hop === undefined) {
      next();
      return;
    }
    try {
      // A symbol key: out of Object.keys, for-in and JSON. Assigned rather than defined
      // non-enumerable (defineProperty is slow on a request whose prototype Express replaced),
      // so util.inspect and copies of the request ({ ...req }) show it: docs/http.md.
      routed[HTTP_SERVER_HOP] = hop;
    } catch (err) {
      log.debug(`could not attach the hop to the request: ${String(err)}`);
    }
    otelContext.with(hop.context, next);
  };
}

/**
 * Optional error middleware that records the error Express is handling (a throw, a rejected
 * async handler, `next(err)`) as an exception on the request's span, then passes it on
 * unchanged. Mount it after the routes and before your own error handlers. Without it a failing
 * request is still marked by its 5xx status, only the exception itself is missing.
 */
export function sessionErrorHandler(): SessionErrorHandler {
  return function agentopsSessionError(err, req, _res, next) {
    hopOf(req)?.recordError(err);
    next(err);
  };
}
