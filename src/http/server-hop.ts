/**
 * The inbound HTTP hop shared by the server adapters: default trust from the socket's address,
 * adoption of a server span another instrumentation already started, the SERVER span with HTTP
 * semantic conventions, and its end when the response finishes or the connection closes. The
 * adapters add only how their framework runs handlers in the hop's context.
 */
import { context as otelContext, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapPropagator } from '@opentelemetry/api';
import { getRPCMetadata, RPCType, setRPCMetadata, type RPCMetadata } from '@opentelemetry/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { incomingHeaderGetter } from '../carriers/http.js';
import { log } from '../base/diag.js';
import { resolveInboundCounted, startInboundHop, startsUnsampled } from '../hop/inbound.js';
import { type HopOutcome, type InboundHop, type InboundHopOptions } from '../hop/types.js';
import { serverRequestAttributes, serverSpanName, statusErrorType } from './semconv.js';
import { isInternalAddress } from './network.js';
import { inboundVerdict } from './inbound-trust.js';
import { recordException } from '../base/span-outcome.js';
import {
  booleanOption,
  keyringOption,
  optionNames,
  optionsObject,
  propagatorOption,
  shapeOption,
  signedUpgradeOption,
  trustOption,
} from '../policy/options.js';
import type { SigningKeyOption, SigningKeyring } from '../policy/signing.js';
import { resolveShape, resolveTrust, type ShapeOption, type TrustMode, type TrustOption } from '../policy/trust.js';

/** Options every HTTP server adapter takes; `Request` is the framework's request object. */
export interface HttpServerOptions<Request> {
  /** Trust mode, or a function of the request (default: 'trust' for loopback / private-network callers, 'link' for others). */
  trust?: TrustOption<Request>;
  /** Shape for trusted callers: 'parent' (default) or 'rejoin', or a function of the request. */
  shape?: ShapeOption<Request>;
  /** Key verifying signed session entries; undefined = the one from `init`, null = none. With a key, only a validly signed entry is accepted, and caller baggage only beside one. */
  signingKey?: SigningKeyOption | SigningKeyring | null;
  /** On routes whose trust is `link`: a validly signed session entry joins its session (the caller's other baggage is still dropped). Default false. */
  signedUpgrade?: boolean;
  /** Adopt the server span of instrumentation-http or @fastify/otel instead of starting a second one (default true). */
  adoptExistingSpan?: boolean;
  /** Propagator to extract with (default: the library's). */
  propagator?: TextMapPropagator;
}

/** Validated {@link HttpServerOptions}. */
export interface HttpServerConfig<Request> {
  /** The trust option as given. */
  trust: TrustOption<Request> | undefined;
  /** The shape option as given. */
  shape: ShapeOption<Request> | undefined;
  /** Keyring for signed entries; undefined = the one from `init`, null = none. */
  signing: SigningKeyring | null | undefined;
  /** Whether a valid signature upgrades `link` to `trust`. */
  signedUpgrade: boolean;
  /** Whether to adopt an existing server span. */
  adopt: boolean;
  /** Propagator to extract with. */
  propagator: TextMapPropagator | undefined;
}

/** Per-request inputs of {@link startHttpServerHop}. */
export interface HttpServerHopInput<Request> {
  /** The framework's request object, handed to trust and shape functions. */
  request: Request;
  /** The request target as received, for `url.path` (default `req.url`). */
  path?: string;
  /** The matched route template, when known before the handler runs. */
  route?: string;
  /** Reads the route template when the response finishes (routers that match late). */
  lateRoute?: () => string | undefined;
  /** Trust for this route, overriding the adapter-wide option. */
  trust?: TrustOption<Request>;
  /** Shape for this route, overriding the adapter-wide option. */
  shape?: ShapeOption<Request>;
  /** `signedUpgrade` for this route, overriding the adapter-wide option. */
  signedUpgrade?: boolean;
}

/** A running inbound HTTP hop. */
export interface HttpServerHop {
  /** Context the request's handlers must run in. */
  readonly context: Context;
  /** The underlying inbound hop (span, session, trust applied). */
  readonly hop: InboundHop;
  /** The trust mode this hop applied to the request. */
  readonly trust: TrustMode;
  /** Records an error the framework reported for this request; the span ends with it. */
  recordError(error: unknown): void;
}

/** Where adapters keep the hop on the request object: the one property the library adds. */
export const HTTP_SERVER_HOP: unique symbol = Symbol.for('agentops-propagation.http-server-hop') as never;

/** Every option name of {@link HttpServerOptions}: any other key is a misspelling. */
const HTTP_SERVER_OPTIONS = optionNames<HttpServerOptions<unknown>>({
  trust: true,
  shape: true,
  signingKey: true,
  signedUpgrade: true,
  adoptExistingSpan: true,
  propagator: true,
});

/** Validates server adapter options; bad configuration throws a TypeError at setup time. */
export function resolveHttpServerOptions<Request>(
  options: HttpServerOptions<Request> | undefined,
  where: string,
): HttpServerConfig<Request> {
  const o = optionsObject(options, `${where} options`, HTTP_SERVER_OPTIONS);
  return {
    trust: trustOption<Request>(o.trust, `${where} trust`),
    shape: shapeOption<Request>(o.shape, `${where} shape`),
    signing: keyringOption(o.signingKey, `${where} signingKey`),
    signedUpgrade: signedUpgradeOption(o.signedUpgrade, `${where} signedUpgrade`),
    adopt: booleanOption(o.adoptExistingSpan, `${where} adoptExistingSpan`, true),
    propagator: propagatorOption(o.propagator, `${where} propagator`, 'extract'),
  };
}

/**
 * The default trust: callers on loopback or a private network are the service's own peers;
 * anyone else may not write into a session. Behind a reverse proxy every caller looks private,
 * which is why the proxy must strip the headers at the edge.
 */
export function defaultHttpTrust(req: IncomingMessage): TrustMode {
  // The verdict init's check recorded (it also knows init's publicPathPrefixes): the hop and the
  // global extract must agree, or the request gets two SERVER spans.
  return inboundVerdict(req.headers) ?? (isInternalAddress(req.socket?.remoteAddress) ? 'trust' : 'link');
}

let warnedStricterRoute = false;
let warnedShadowedHop = false;

/**
 * A second server middleware on the request's path (a router-level one behind an app-level one)
 * finds the first one's hop and does nothing: its own trust never applies. Said once, when its
 * trust for this request differs from the trust the first applied. Never throws.
 */
export function warnIfShadowed<Request>(
  existing: HttpServerHop,
  req: IncomingMessage,
  config: HttpServerConfig<Request>,
  request: Request,
  path: string | undefined,
): void {
  if (warnedShadowedHop) return;
  try {
    const trust = resolveTrust(config.trust, request, defaultHttpTrust(req));
    if (trust === existing.trust) return;
    warnedShadowedHop = true;
    log.warn(
      `a second session middleware on ${String(path ?? req.url).split('?')[0]} would apply trust '${trust}', but an earlier one already ` +
        `started this request's hop with trust '${existing.trust}' and the second does nothing: mount one middleware per ` +
        'path, or give the first a trust function of the request',
    );
  } catch (err) {
    log.debug(`checking a second session middleware failed: ${String(err)}`);
  }
}

/**
 * A route stricter than the global extract: instrumentation-http's span already continued the
 * caller before the route's option was read. Said once; init's publicPathPrefixes closes it.
 */
function warnIfStricterThanGlobal(req: IncomingMessage, trust: TrustMode, existing: Span | undefined): void {
  if (warnedStricterRoute || trust === 'trust' || existing === undefined || inboundVerdict(req.headers) !== 'trust') return;
  warnedStricterRoute = true;
  log.warn(
    `route ${String(req.url).split('?')[0]} does not trust its callers, but instrumentation-http's SERVER span was started from the global extract, which did: ` +
      "list the route's path in init({ publicPathPrefixes }) so that the stock span does not continue the caller's trace",
  );
}

/**
 * The server span another instrumentation made for this request: the one instrumentation-http
 * records in the RPC metadata, else an active SERVER span (@fastify/otel on its own).
 */
function findServerSpan(ctx: Context): Span | undefined {
  const rpc = getRPCMetadata(ctx);
  if (rpc?.type === RPCType.HTTP && rpc.span.isRecording()) return rpc.span;
  const span = trace.getSpan(ctx);
  if (span !== undefined && span.isRecording() && (span as { kind?: unknown }).kind === SpanKind.SERVER) return span;
  return undefined;
}

function ignoreError(): void {}

/**
 * Starts the inbound hop of one HTTP request and ends it when `res` finishes (or closes first).
 * Never throws: on an internal failure it logs and returns undefined, and the request goes on
 * without a hop.
 */
export function startHttpServerHop<Request>(
  req: IncomingMessage,
  res: ServerResponse,
  config: HttpServerConfig<Request>,
  input: HttpServerHopInput<Request>,
): HttpServerHop | undefined {
  try {
    const active = otelContext.active();
    const trust = resolveTrust(input.trust ?? config.trust, input.request, defaultHttpTrust(req));
    const shape = resolveShape(input.shape ?? config.shape, input.request, 'parent');
    const rpc: RPCMetadata | undefined = getRPCMetadata(active);
    // Built field by field: spreading here costs more than the rest of the hop (see http-semconv).
    const options: InboundHopOptions<IncomingMessage['headers']> = {
      carrier: req.headers,
      getter: incomingHeaderGetter,
      spanName: serverSpanName(req.method, input.route),
      kind: SpanKind.SERVER,
      trust,
      shape,
    };
    if (config.signing !== undefined) options.signing = config.signing;
    if (input.signedUpgrade ?? config.signedUpgrade) options.signedUpgrade = true;
    if (config.propagator !== undefined) options.propagator = config.propagator;
    const existingSpan = findServerSpan(active);
    warnIfStricterThanGlobal(req, trust, existingSpan);
    if (config.adopt && existingSpan !== undefined) options.existingSpan = existingSpan;
    options.resolved = resolveInboundCounted(options, 'http');
    // The attributes are for a recording span (and a sampler that may read them).
    if (options.existingSpan !== undefined || !startsUnsampled(options.resolved)) {
      const attributes = serverRequestAttributes(req, input.path);
      if (input.route !== undefined) attributes['http.route'] = input.route;
      options.attributes = attributes;
    }
    const hop = startInboundHop(options);
    // Our own SERVER span announces itself the way instrumentation-http does, so that
    // @fastify/otel and instrumentation-express nest under it (recording or not: without it
    // @fastify/otel starts a SERVER span of its own) and name it by route.
    const context = rpc === undefined && !hop.adopted ? setRPCMetadata(hop.context, { type: RPCType.HTTP, span: hop.span }) : hop.context;
    // Nothing to end or name: the span records nothing (an unsampled caller) and no
    // instrumentation-http waits for the route (its duration metric reads it, sampled or not).
    if (rpc === undefined && !hop.span.isRecording()) return { context, hop, trust, recordError: ignoreError };

    let error: unknown;
    let hasError = false;
    let ended = false;
    const end = (closed: boolean): void => {
      if (ended) return;
      ended = true;
      res.removeListener('finish', onFinish);
      res.removeListener('close', onClose);
      try {
        endHop(req, res, hop, rpc, input, closed, hasError, error);
      } catch (err) {
        log.warn('ending the HTTP server span failed', err as Error);
      }
    };
    const onFinish = (): void => end(false);
    const onClose = (): void => end(true);
    res.once('finish', onFinish);
    res.once('close', onClose);

    return {
      context,
      hop,
      trust,
      recordError(err) {
        if (hasError || ended) return;
        hasError = true;
        error = err;
      },
    };
  } catch (err) {
    log.warn('starting the HTTP server hop failed; the request goes on without it', err as Error);
    return undefined;
  }
}

function endHop(
  req: IncomingMessage,
  res: ServerResponse,
  hop: InboundHop,
  rpc: RPCMetadata | undefined,
  input: Pick<HttpServerHopInput<unknown>, 'route' | 'lateRoute'>,
  closed: boolean,
  hasError: boolean,
  error: unknown,
): void {
  const route = input.route ?? input.lateRoute?.();
  const attributes: Attributes = {};
  const status = res.headersSent ? res.statusCode : undefined;
  if (status !== undefined) attributes['http.response.status_code'] = status;
  if (route !== undefined && route.length > 0) {
    attributes['http.route'] = route;
    if (!hop.adopted) hop.span.updateName(serverSpanName(req.method, route));
    // instrumentation-http names its span from the RPC metadata when the response closes.
    if (rpc?.type === RPCType.HTTP && rpc.route === undefined) rpc.route = route;
  }
  const outcome: HopOutcome = { attributes };
  if (hasError && (status === undefined || status >= 500)) {
    // The error recorder sets `error.type` from the error.
    outcome.error = error;
  } else if (hasError) {
    // A 4xx is the caller's fault: the exception is worth seeing, the span did not fail.
    recordException(hop.span, error);
  } else if (closed && !res.writableFinished) {
    attributes['error.type'] = 'aborted';
    outcome.status = SpanStatusCode.ERROR;
  } else if (status !== undefined) {
    const type = statusErrorType(status, 'server');
    if (type !== undefined) {
      attributes['error.type'] = type;
      outcome.status = SpanStatusCode.ERROR;
    }
  }
  hop.end(outcome);
}
