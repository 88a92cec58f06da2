/**
 * THE REFERENCE for the HTTP rows ("hand"): a hand-written server hook on the plain OpenTelemetry
 * API and SDK that extracts with OTel's W3C propagators and starts one SERVER span through the
 * SDK's BatchSpanProcessor (set up by bench/lib/tracing.ts sdkTracing). Its span has the same
 * name, kind and attributes as ours (the HTTP semconv set of src/http/semconv.ts, http.route, the
 * status code, session.id / agentops.session.id and the hop's two attributes), so the difference
 * between the two rows is what our trust, shape, session and policy decisions cost.
 *
 * Later issues measure against this file and MUST NOT edit it.
 */
import { context, defaultTextMapGetter, SpanKind, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { addSessionAttributes, w3cPropagator } from './w3c.js';

const tracer = () => trace.getTracer('bench-reference');

function requestAttributes(req: IncomingMessage): Attributes {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const host = req.headers.host ?? '';
  const colon = host.lastIndexOf(':');
  const socket = req.socket;
  const attributes: Attributes = {
    'http.request.method': req.method ?? 'GET',
    'url.scheme': 'http',
    'url.path': q >= 0 ? url.slice(0, q) : url,
    'server.address': colon >= 0 ? host.slice(0, colon) : host,
    'server.port': colon >= 0 ? Number(host.slice(colon + 1)) : 80,
  };
  if (socket.remoteAddress !== undefined) {
    attributes['client.address'] = socket.remoteAddress;
    attributes['network.peer.address'] = socket.remoteAddress;
  }
  if (socket.remotePort !== undefined) attributes['network.peer.port'] = socket.remotePort;
  const agent = req.headers['user-agent'];
  if (agent !== undefined) attributes['user_agent.original'] = agent;
  attributes['network.protocol.version'] = req.httpVersion;
  return attributes;
}

/** Extracts the caller's context and starts the SERVER span in it; returns both. */
function startServerSpan(req: IncomingMessage, route: string | undefined) {
  const extracted = w3cPropagator.extract(context.active(), req.headers, defaultTextMapGetter);
  const attributes = addSessionAttributes(requestAttributes(req), extracted);
  if (route !== undefined) attributes['http.route'] = route;
  const name = route === undefined ? (req.method ?? 'GET') : `${req.method} ${route}`;
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, extracted);
  return { span, ctx: trace.setSpan(extracted, span) };
}

function endServerSpan(span: Span, res: ServerResponse): void {
  span.setAttribute('http.response.status_code', res.statusCode);
  span.end();
}

/** Express: the route is known only after routing, so name and http.route are set at the end. */
export function referenceExpressMiddleware() {
  return (req: IncomingMessage & { route?: { path?: string } }, res: ServerResponse, next: () => void): void => {
    const { span, ctx } = startServerSpan(req, undefined);
    res.once('finish', () => {
      const route = req.route?.path;
      if (route !== undefined) {
        span.setAttribute('http.route', route);
        span.updateName(`${req.method} ${route}`);
      }
      endServerSpan(span, res);
    });
    context.with(ctx, next);
  };
}

interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: FastifyRequestLike, reply: unknown, done: () => void) => void): unknown;
  addHook(name: 'onResponse', hook: (request: FastifyRequestLike, reply: { raw: ServerResponse }, done: () => void) => void): unknown;
}
interface FastifyRequestLike {
  raw: IncomingMessage;
  routeOptions: { url?: string | undefined };
}

const spans = new WeakMap<IncomingMessage, Span>();

/** Fastify: the route is known in onRequest; the handler runs in the span's context. */
export function registerReferenceFastifyHooks(app: FastifyLike): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const { span, ctx } = startServerSpan(request.raw, request.routeOptions.url);
    spans.set(request.raw, span);
    context.with(ctx, done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request.raw);
    if (span !== undefined) endServerSpan(span, reply.raw);
    done();
  });
}
