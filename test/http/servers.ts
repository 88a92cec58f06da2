/**
 * One driver per server adapter (the Express middleware on Express 4 and 5, the Fastify plugin on
 * Fastify 4 and 5): a real server with the adapter mounted, built from routes written once for
 * every framework. The contract suite runs over {@link SERVER_ADAPTERS}; the framework files use
 * {@link startExpress} and {@link startFastify} with their own additions.
 */
import express5, { type RequestHandler } from 'express';
import express4 from 'express4';
import Fastify5, { type FastifyContextConfig, type FastifyInstance } from 'fastify';
import Fastify4 from 'fastify4';
import { createServer } from 'node:http';
import { sessionErrorHandler, sessionMiddleware, type SessionMiddlewareOptions } from '../../adapters/express/index.js';
import { sessionPlugin, type SessionPluginOptions } from '../../adapters/fastify/index.js';
import { getSessionId } from '../../src/index.js';
import { MAX_HEADER_SIZE, listen, type RunningServer } from './helpers.js';
// The two library internals the HTTP tests use, imported here and nowhere else.
import { HTTP_SERVER_HOP } from '../../src/http/server-hop.js';
export { signSessionEntry } from '../../src/policy/signing.js';
export { HTTP_SERVER_HOP };

type Json = Record<string, unknown>;
export type Express = typeof express5;
export type FastifyFactory = typeof Fastify5;

/** The request object as trust and shape functions receive it, in every framework. */
export interface FrameworkRequest {
  url: string;
}

type TrustMode = Extract<SessionMiddlewareOptions['trust'], string>;
type ShapeMode = Extract<SessionMiddlewareOptions['shape'], string>;

/** Adapter options, with trust and shape functions written against {@link FrameworkRequest}. */
export interface ServerOptions extends Omit<SessionMiddlewareOptions, 'trust' | 'shape'> {
  trust?: TrustMode | ((request: FrameworkRequest) => TrustMode);
  shape?: ShapeMode | ((request: FrameworkRequest) => ShapeMode);
}

/** What the adapter changed on the request object: keys and symbols, by their `String()`. */
interface Footprint {
  /** Added between the framework's request and the middleware or hook right after the adapter. */
  afterAdapter: { keys: string[]; symbols: string[] };
  /** This library's symbols (named `agentops...`) added by the time the handler runs. */
  libraryAtHandler: string[];
}

/** What a route handler gets, whatever the framework. */
interface RouteRequest {
  readonly body: unknown;
  /** Answers later, for a handler that returns nothing (callback style). */
  respond(body: Json): void;
  footprint(): Partial<Footprint>;
}

/**
 * A route: its handler returns the JSON body (or a promise of it), or returns nothing and calls
 * `respond`. A throw, sync or async, goes to the framework's error handling; an error's
 * `statusCode` is the response status (default 500). `trust` replaces the adapter's option for
 * this route, the way the framework does it (Fastify: `config.agentops`; Express: the route's own
 * middleware).
 */
export interface Route {
  method?: 'GET' | 'POST';
  path: string;
  handler: (request: RouteRequest) => unknown;
  trust?: TrustMode;
}

export interface ServerSetup {
  options?: ServerOptions;
  routes?: Route[];
}

/** A server under test; `close` stops it. */
export type TestServer = Pick<RunningServer, 'port' | 'url' | 'close'>;

export interface ServerAdapter {
  name: string;
  /** Fastify declares the hop as a request decorator up front; Express adds it to the request. */
  hopSymbolsAdded: string[];
  /**
   * What `null` as the adapter's options does: Express hands it to `sessionMiddleware`, which
   * throws; Fastify 4 and 5 turn a plugin's `null` options into `{}` before the plugin runs, so
   * the plugin starts with its defaults (documented in docs/http.md).
   */
  nullOptions: 'TypeError' | 'defaults';
  start(setup: ServerSetup): Promise<TestServer>;
}

/** The session the current code runs in, or null. */
export const currentSession = (): string | null => getSessionId() ?? null;

/** Answers `{ error, session }` with the error's `statusCode` (default 500). */
function errorBody(err: unknown): { status: number; body: Json } {
  const { statusCode, message } = err as { statusCode?: number; message?: string };
  return { status: statusCode ?? 500, body: { error: message, session: currentSession() } };
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function';

/** Keys and symbols of a request object, to see what was added to it later. */
class Snapshots {
  private readonly before = new WeakMap<object, { keys: string[]; symbols: symbol[] }>();
  private readonly after = new WeakMap<object, Footprint['afterAdapter']>();

  takeBefore(request: object): void {
    this.before.set(request, { keys: Object.keys(request), symbols: Object.getOwnPropertySymbols(request) });
  }

  takeAfter(request: object): void {
    const { keys, symbols } = this.added(request);
    this.after.set(request, { keys, symbols: symbols.map(String) });
  }

  /** Undefined parts (a snapshot not taken) leave `afterAdapter` out, so no expectation can pass by default. */
  footprint(request: object): Partial<Footprint> {
    const libraryAtHandler = this.added(request)
      .symbols.map(String)
      .filter((s) => s.includes('agentops'));
    return { afterAdapter: this.after.get(request), libraryAtHandler };
  }

  /** Everything on the request counts as added when no snapshot was taken before the adapter. */
  private added(request: object): { keys: string[]; symbols: symbol[] } {
    const before = this.before.get(request) ?? { keys: [], symbols: [] };
    return {
      keys: Object.keys(request).filter((k) => !before.keys.includes(k)),
      symbols: Object.getOwnPropertySymbols(request).filter((s) => !before.symbols.includes(s)),
    };
  }
}

/** Express-only parts of an app. */
export interface ExpressExtras {
  /** Mount `sessionErrorHandler()` before the app's error handler (default true). */
  sessionErrorHandler?: boolean;
  /** Adds routers and routes after the shared ones, before the error handlers. */
  configure?(app: ReturnType<Express>): void;
}

/** An Express app with the middleware mounted first, the routes, and an error handler answering {@link errorBody}. */
export async function startExpress(express: Express, setup: ServerSetup, extras: ExpressExtras = {}): Promise<TestServer> {
  const options = setup.options as SessionMiddlewareOptions | undefined;
  const snapshots = new Snapshots();
  const app = express();
  app.use((req, _res, next) => {
    snapshots.takeBefore(req);
    next();
  });
  const routes = setup.routes ?? [];
  const addRoute = (route: Route, ...before: RequestHandler[]): void => {
    app[route.method === 'POST' ? 'post' : 'get'](route.path, ...before, expressHandler(route, snapshots));
  };
  // A route with its own trust has its own middleware, ahead of the app's: the first to see a request decides.
  for (const route of routes.filter((r) => r.trust !== undefined)) {
    addRoute(route, sessionMiddleware({ ...options, trust: route.trust }), express.json());
  }
  app.use(sessionMiddleware(options));
  app.use((req, _res, next) => {
    snapshots.takeAfter(req);
    next();
  });
  app.use(express.json());
  for (const route of routes.filter((r) => r.trust === undefined)) addRoute(route);
  extras.configure?.(app);
  if (extras.sessionErrorHandler !== false) app.use(sessionErrorHandler());
  app.use((err: unknown, _req: unknown, res: { status(code: number): { json(body: unknown): void } }, _next: unknown) => {
    const { status, body } = errorBody(err);
    res.status(status).json(body);
  });
  return listen(undefined, createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app));
}

type ExpressHandler = (req: { body?: unknown }, res: { json(body: unknown): void }, next: (err: unknown) => void) => void;

function expressHandler(route: Route, snapshots: Snapshots): ExpressHandler {
  return (req, res, next) => {
    // Called synchronously, so that a sync throw reaches Express as it would from any handler.
    const result = route.handler({
      body: req.body,
      respond: (body) => res.json(body),
      footprint: () => snapshots.footprint(req),
    });
    if (isThenable(result)) result.then((body) => res.json(body), next);
    else if (result !== undefined) res.json(result);
  };
}

/** Fastify-only parts of an app. */
export interface FastifyExtras {
  /** Adds hooks, plugins and routes after the shared routes, before the server listens. */
  configure?(app: FastifyInstance): Promise<void> | void;
}

/** A Fastify app with the plugin registered first, the routes, and an error handler answering {@link errorBody}. */
export async function startFastify(factory: FastifyFactory, setup: ServerSetup, extras: FastifyExtras = {}): Promise<TestServer> {
  const app = factory({ serverFactory: (handler) => createServer({ maxHeaderSize: MAX_HEADER_SIZE }, handler) }) as FastifyInstance;
  const snapshots = new Snapshots();
  // Hooks run in the order they are added: these two see the request just before and just after the plugin's.
  app.addHook('onRequest', (request, _reply, done) => {
    snapshots.takeBefore(request);
    done();
  });
  await app.register(sessionPlugin, setup.options as SessionPluginOptions);
  app.addHook('onRequest', (request, _reply, done) => {
    snapshots.takeAfter(request);
    done();
  });
  app.setErrorHandler((err, _request, reply) => {
    const { status, body } = errorBody(err);
    void reply.code(status).send(body);
  });
  for (const route of setup.routes ?? []) {
    const config: FastifyContextConfig = route.trust === undefined ? {} : { agentops: { trust: route.trust } };
    app.route({
      method: route.method ?? 'GET',
      url: route.path,
      config,
      // Not an async function: a sync throw stays sync, and returning nothing means "replies later".
      handler: (request, reply) =>
        route.handler({
          body: request.body,
          respond: (body) => void reply.send(body),
          footprint: () => snapshots.footprint(request),
        }),
    });
  }
  await extras.configure?.(app);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, port: Number(new URL(url).port), close: () => app.close() };
}

export const EXPRESS_VERSIONS: [string, Express][] = [
  ['express 5', express5],
  ['express 4', express4 as unknown as Express],
];

export const FASTIFY_VERSIONS: [string, FastifyFactory][] = [
  ['fastify 5', Fastify5],
  ['fastify 4', Fastify4 as unknown as FastifyFactory],
];

const HOP = String(HTTP_SERVER_HOP);

export const SERVER_ADAPTERS: ServerAdapter[] = [
  ...EXPRESS_VERSIONS.map(([name, express]) => ({
    name,
    hopSymbolsAdded: [HOP],
    nullOptions: 'TypeError' as const,
    start: (setup: ServerSetup) => startExpress(express, setup),
  })),
  ...FASTIFY_VERSIONS.map(([name, factory]) => ({
    name,
    hopSymbolsAdded: [],
    nullOptions: 'defaults' as const,
    start: (setup: ServerSetup) => startFastify(factory, setup),
  })),
];

/** Runs `fn` against a server being started for it, and stops the server after. */
export async function withServer<T>(starting: Promise<TestServer>, fn: (server: TestServer) => Promise<T>): Promise<T> {
  const server = await starting;
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

export interface Reply {
  status: number;
  body: Json;
}

/** A request to `server`: a GET, or a POST of `json`. A body that is not JSON reads as `{}`. */
export async function request(server: TestServer, path: string, headers: Record<string, string> = {}, json?: unknown): Promise<Reply> {
  const post = { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(json) };
  const response = await fetch(`${server.url}${path}`, json === undefined ? { headers } : post);
  const text = await response.text();
  let body: Json = {};
  try {
    body = JSON.parse(text) as Json;
  } catch {
    // A framework's own HTML page (Express's 404).
  }
  return { status: response.status, body };
}

/** Options every adapter refuses at setup, with a TypeError. */
export const INVALID_OPTIONS: [string, ServerOptions][] = [
  ['an unknown trust mode', { trust: 'maybe' as never }],
  ['an unknown shape', { shape: 'tree' as never }],
  ['a signing key too short', { signingKey: 'short' }],
  ['a non-boolean adoptExistingSpan', { adoptExistingSpan: 1 as never }],
  ['a misspelled option name', { trsut: 'link' } as never],
  ['null', null as never],
];
