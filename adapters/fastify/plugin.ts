/**
 * Fastify 4 and 5. A context bound in an `onRequest` hook does not reliably reach the handler:
 * the body is parsed from stream events that run in the socket's context, not the request's. So
 * the hop is kept on the request (one decorator), and every function of the request's lifecycle
 * is run in it explicitly: the route's handler, hooks and error handler are wrapped when the
 * route is added (`onRoute`), and request hooks added with `addHook` after the plugin (by the
 * application or any plugin, encapsulated or not) are wrapped as they are added. A stage with no
 * hook of anyone's costs nothing. No `AsyncLocalStorage.enterWith`.
 */
import { context as otelContext, type Context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { log } from '../../src/base/diag.js';
import { activeInstrumentationSpan } from '../../src/hop/adopt.js';
import {
  HTTP_SERVER_HOP,
  resolveHttpServerOptions,
  startHttpServerHop,
  type HttpServerHop,
  type HttpServerHopInput,
  type HttpServerOptions,
} from '../../src/http/server-hop.js';
import { optionsObject, shapeOption, signedUpgradeOption, trustOption } from '../../src/policy/options.js';
import type { ShapeOption, TrustOption } from '../../src/policy/trust.js';

/** Options of {@link sessionPlugin}; trust and shape functions receive the Fastify request. */
export type SessionPluginOptions = HttpServerOptions<FastifyRequest>;

/** Per-route settings: `{ config: { agentops: { trust: 'link' } } }` in the route options. */
export interface SessionRouteConfig {
  /** Trust for this route, replacing the plugin's option. */
  trust?: TrustOption<FastifyRequest>;
  /** Shape for this route, replacing the plugin's option. */
  shape?: ShapeOption<FastifyRequest>;
  /** `signedUpgrade` for this route, replacing the plugin's option. */
  signedUpgrade?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** agentops-propagation settings for this route. */
    agentops?: SessionRouteConfig;
  }
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type HookHolder = { [HTTP_SERVER_HOP]?: HttpServerHop | null };
type Done = (err?: Error | null, value?: unknown) => void;

/** Request hooks: their first argument is the request (route-level or added with `addHook`). */
const ROUTE_HOOKS = [
  'onRequest',
  'preParsing',
  'preValidation',
  'preHandler',
  'preSerialization',
  'onSend',
  'onResponse',
  'onError',
  'onTimeout',
  'onRequestAbort',
] as const;
/** Marks a function we wrapped, so that a route added twice (HEAD routes) is not wrapped twice. */
const WRAPPED = Symbol('agentops-propagation.wrapped');

function contextOf(request: unknown): Context | undefined {
  return typeof request === 'object' && request !== null ? ((request as HookHolder)[HTTP_SERVER_HOP] ?? undefined)?.context : undefined;
}

/** `fn` run in the context of the request found at `requestIndex` of its arguments; same sync/async kind and arity. */
function bindToRequest(fn: AnyFunction, requestIndex: number, asHook = true): AnyFunction {
  if ((fn as unknown as Record<symbol, unknown>)[WRAPPED] === true) return fn;
  // A handler's result goes back as it is (a promise included); an async wrapper would add a
  // promise and a tick per request.
  const isAsync = asHook && fn.constructor?.name === 'AsyncFunction';
  // Fastify validates hook arity and async-ness after onRoute: the wrapper keeps both, so its
  // verdict on the user's function is unchanged.
  const wrapper = isAsync
    ? async function (this: unknown, ...args: unknown[]) {
        const ctx = contextOf(args[requestIndex]);
        return ctx === undefined || otelContext.active() === ctx ? fn.apply(this, args) : otelContext.with(ctx, fn, this, ...args);
      }
    : function (this: unknown, ...args: unknown[]) {
        const ctx = contextOf(args[requestIndex]);
        return ctx === undefined || otelContext.active() === ctx ? fn.apply(this, args) : otelContext.with(ctx, fn, this, ...args);
      };
  Object.defineProperty(wrapper, 'length', { value: fn.length });
  Object.defineProperty(wrapper, 'name', { value: fn.name });
  Object.defineProperty(wrapper, WRAPPED, { value: true });
  return wrapper as AnyFunction;
}

function validateRouteConfig(routeOptions: RouteOptions): void {
  const settings = (routeOptions.config as { agentops?: unknown } | undefined)?.agentops;
  if (settings === undefined) return;
  const where = `route ${String(routeOptions.method)} ${routeOptions.url} config.agentops`;
  const raw = optionsObject(settings, where);
  trustOption(raw.trust, `${where}.trust`);
  shapeOption(raw.shape, `${where}.shape`);
  signedUpgradeOption(raw.signedUpgrade, `${where}.signedUpgrade`);
}

function wrapRoute(routeOptions: RouteOptions): void {
  validateRouteConfig(routeOptions);
  const options = routeOptions as unknown as Record<string, unknown>;
  if (typeof options.handler === 'function') options.handler = bindToRequest(options.handler as AnyFunction, 0, false);
  if (typeof options.errorHandler === 'function') options.errorHandler = bindToRequest(options.errorHandler as AnyFunction, 1, false);
  for (const name of ROUTE_HOOKS) {
    const hooks = options[name];
    // A malformed hook is left as is, for Fastify to reject with its own error.
    if (typeof hooks === 'function') options[name] = bindToRequest(hooks as AnyFunction, 0);
    else if (Array.isArray(hooks))
      options[name] = hooks.map((h: unknown) => (typeof h === 'function' ? bindToRequest(h as AnyFunction, 0) : h));
  }
}

interface RequestRouteInfo {
  routeOptions?: { url?: unknown; config?: { agentops?: SessionRouteConfig } };
  routerPath?: unknown;
  routeConfig?: { agentops?: SessionRouteConfig };
}

function routeOf(request: FastifyRequest): { url: string | undefined; settings: SessionRouteConfig | undefined } {
  const info = request as unknown as RequestRouteInfo;
  // Fastify 5 and late 4 expose routeOptions; earlier 4.x routerPath / routeConfig.
  const url = info.routeOptions?.url ?? info.routerPath;
  const settings = info.routeOptions?.config?.agentops ?? info.routeConfig?.agentops;
  return { url: typeof url === 'string' && url.length > 0 ? url : undefined, settings };
}

function attachHop(request: FastifyRequest, hop: HttpServerHop): void {
  (request as unknown as HookHolder)[HTTP_SERVER_HOP] = hop;
}

const registerSessionPlugin: FastifyPluginCallback<SessionPluginOptions> = (fastify, options, done) => {
  let config;
  try {
    // Fastify adds its own keys (prefix, logLevel...) to plugin options; only ours are read.
    // Fastify's own registration options travel in the same object; every other key must be ours.
    const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...ours } = (options ?? {}) as Record<string, unknown>;
    config = resolveHttpServerOptions<FastifyRequest>(ours as SessionPluginOptions, 'sessionPlugin');
  } catch (err) {
    done(err as Error);
    return;
  }
  const instance = fastify as FastifyInstance;
  if (!instance.hasRequestDecorator(HTTP_SERVER_HOP as unknown as string))
    instance.decorateRequest(HTTP_SERVER_HOP as unknown as string, null);

  let orderChecked = false;
  instance.addHook('onRequest', function agentopsStartHop(request: FastifyRequest, reply: FastifyReply, next: () => void) {
    if (contextOf(request) !== undefined) {
      next();
      return;
    }
    if (!orderChecked) {
      orderChecked = true;
      // @fastify/otel runs handlers in a context it saved before our hook ran: registered first,
      // it hides the session from every handler.
      if (activeInstrumentationSpan(['@fastify/otel']) !== undefined) {
        log.warn(
          'sessionPlugin is registered after @fastify/otel: register sessionPlugin first, or route handlers will not see the session',
        );
      }
    }
    const route = routeOf(request);
    const input: HttpServerHopInput<FastifyRequest> = { request, path: request.raw.url ?? request.url };
    if (route.url !== undefined) input.route = route.url;
    if (route.settings?.trust !== undefined) input.trust = route.settings.trust;
    if (route.settings?.shape !== undefined) input.shape = route.settings.shape;
    if (route.settings?.signedUpgrade !== undefined) input.signedUpgrade = route.settings.signedUpgrade;
    const hop = startHttpServerHop(request.raw, reply.raw, config, input);
    if (hop === undefined) {
      next();
      return;
    }
    attachHop(request, hop);
    otelContext.with(hop.context, next);
  });

  instance.addHook('onError', function agentopsRecordError(request: FastifyRequest, _reply: FastifyReply, error: unknown, next: Done) {
    (request as unknown as HookHolder)[HTTP_SERVER_HOP]?.recordError(error);
    next();
  } as never);

  // Hooks other plugins add from here on run in the request's context, whatever context Fastify
  // calls them from (a body parsed from socket events, a previous hook's `done` called from
  // elsewhere). Encapsulated instances inherit `addHook` from this one. Wrapping at registration
  // instead of re-entering at every stage: a stage nobody hooks costs a request nothing.
  const addHook = instance.addHook;
  instance.addHook = function addHookInRequestContext(this: FastifyInstance, name: string, hook: unknown) {
    const bound =
      typeof hook === 'function' && (ROUTE_HOOKS as readonly string[]).includes(name) ? bindToRequest(hook as AnyFunction, 0) : hook;
    return (addHook as (this: FastifyInstance, ...args: unknown[]) => FastifyInstance).call(this, name, bound);
  } as typeof addHook;

  instance.addHook('onRoute', (routeOptions: RouteOptions) => {
    wrapRoute(routeOptions);
  });
  log.debug('sessionPlugin registered');
  done();
};

/**
 * Fastify plugin (4 and 5, marked as fastify-plugin marks plugins, so it applies to the whole application):
 * extracts the caller's context under the trust policy, starts the SERVER span (or adopts the one
 * of instrumentation-http / @fastify/otel), and runs the route's hooks and handler in the hop's
 * context. Register it before the routes and plugins it should cover. Per-route trust:
 * `config: { agentops: { trust: 'link' } }`. Invalid options fail registration with a TypeError.
 */
export const sessionPlugin: FastifyPluginCallback<SessionPluginOptions> = Object.assign(registerSessionPlugin, {
  // What fastify-plugin sets (not a dependency, so that Express-only users do not install it):
  // skip encapsulation, the display name, and the metadata Fastify checks its version against.
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'agentops-propagation',
  [Symbol.for('plugin-meta')]: { name: 'agentops-propagation', fastify: '4.x || 5.x' },
});
