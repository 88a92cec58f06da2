import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import express5 from 'express';
import express4 from 'express4';
import { createServer, type IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionErrorHandler, sessionMiddleware, type SessionMiddlewareOptions } from '../../adapters/express/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import { createKeyring, getSessionId, startSession } from '../../src/index.js';
import { HTTP_SERVER_HOP } from '../../src/http/server-hop.js';
import { signSessionEntry } from '../../src/policy/signing.js';
import { parentSpanId, setupTracing, type TestTracing } from '../helpers/otel.js';
import {
  MAX_HEADER_SIZE,
  delay,
  eventually,
  listen,
  rawHead,
  rawJson,
  rawPostHead,
  rawRequest,
  recordingServer,
  sessionInBaggage,
  upstreamHeaders,
  type RunningServer,
} from './helpers.js';

let t: TestTracing;
let downstream: Awaited<ReturnType<typeof recordingServer>>;
beforeAll(async () => {
  t = setupTracing();
  downstream = await recordingServer();
});
afterEach(() => {
  t.reset();
  downstream.seen.length = 0;
});
afterAll(async () => {
  await downstream.close();
  await t.shutdown();
});

const keyring = createKeyring('express-test-signing-key-0123456789');
const fetchWithSession = sessionFetch();

type Express = typeof express5;
type AnyRequest = IncomingMessage & { body?: unknown; params?: Record<string, string> };

interface Observed {
  session: string | null;
  keysAdded?: string[];
  symbolsAdded?: string[];
}

function buildApp(express: Express, options?: SessionMiddlewareOptions, withErrorMiddleware = true) {
  const app = express();
  app.use((req, _res, next) => {
    (req as unknown as { before: { keys: string[]; symbols: symbol[] } }).before = { keys: Object.keys(req), symbols: Object.getOwnPropertySymbols(req) };
    next();
  });
  app.use(sessionMiddleware(options));
  app.use((req, _res, next) => {
    const before = (req as unknown as { before: { keys: string[]; symbols: symbol[] } }).before;
    (req as unknown as { added: { keys: string[]; symbols: string[] } }).added = {
      keys: Object.keys(req).filter((k) => !before.keys.includes(k) && k !== 'before'),
      symbols: Object.getOwnPropertySymbols(req)
        .filter((s) => !before.symbols.includes(s))
        .map(String),
    };
    next();
  });
  app.use(express.json());
  const observe = (req: unknown): Observed => {
    const added = (req as { added: { keys: string[]; symbols: string[] } }).added;
    return { session: getSessionId() ?? null, keysAdded: added.keys, symbolsAdded: added.symbols };
  };

  const api = express.Router();
  api.get('/items/:id', async (req, res) => {
    await delay(5);
    await new Promise((r) => setImmediate(r));
    res.json(observe(req));
  });
  const inner = express.Router();
  inner.get('/deep', (_req, res) => {
    setTimeout(() => res.json({ session: getSessionId() ?? null }), 2);
  });
  api.use('/nested', inner);
  app.use('/api', api);

  app.post('/echo', async (req, res) => {
    await delay(1);
    res.json({ session: getSessionId() ?? null, body: (req as AnyRequest).body });
  });
  app.get('/downstream', async (_req, res) => {
    await delay(Math.floor(Math.random() * 10));
    const response = await fetchWithSession(`${downstream.url}/record`);
    const seen = (await response.json()) as { headers: Record<string, string> };
    res.json({ session: getSessionId() ?? null, downstreamSession: sessionInBaggage(seen.headers.baggage) ?? null, downstreamTraceparent: seen.headers.traceparent });
  });
  app.get('/boom', async (_req, _res, next) => {
    await delay(1);
    next(new RangeError('boom'));
  });
  app.get('/throw', () => {
    throw new TypeError('thrown');
  });
  app.get('/bad-request', (_req, _res, next) => {
    next(Object.assign(new Error('bad input'), { status: 400 }));
  });
  if (withErrorMiddleware) app.use(sessionErrorHandler());
  app.use((err: Error & { status?: number }, _req: unknown, res: { status(n: number): { json(v: unknown): void } }, _next: unknown) => {
    res.status(err.status ?? 500).json({ error: err.message, session: getSessionId() ?? null });
  });
  return app;
}

async function serve(app: ReturnType<Express>): Promise<RunningServer> {
  return listen(undefined, createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app));
}

async function get(server: RunningServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe.each([
  ['express 5', express5],
  ['express 4', express4 as unknown as Express],
])('%s', (_name, express) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve(buildApp(express));
  });
  afterAll(() => server.close());

  it('continues the session through routers and awaits, with a semconv SERVER span', async () => {
    const session = startSession({ name: 'caller' });
    const headers = upstreamHeaders(session);
    const { status, body } = await get(server, '/api/items/42?q=secret', { ...headers, 'user-agent': 'agent-test/1.0' });
    session.end();
    expect(status).toBe(200);
    expect(body.session).toBe(session.id);

    const span = await eventually(() => t.one('GET /api/items/:id'));
    const upstream = t.one('upstream');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(span)).toBe(upstream.spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/api/items/:id',
      'url.path': '/api/items/42',
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'client.address': '127.0.0.1',
      'user_agent.original': 'agent-test/1.0',
      'network.protocol.version': '1.1',
      'session.id': session.id,
      'agentops.hop.trust': 'trust',
      'agentops.hop.shape': 'parent',
    });
    expect(JSON.stringify(span.attributes)).not.toContain('secret');
  });

  it('nested routers see the session; the route joins the mount paths', async () => {
    const session = startSession();
    const { body } = await get(server, '/api/nested/deep', upstreamHeaders(session));
    session.end();
    expect(body.session).toBe(session.id);
    const span = await eventually(() => t.one('GET /api/nested/deep'));
    expect(span.attributes['http.route']).toBe('/api/nested/deep');
  });

  it('the handler runs in the session after body parsing', async () => {
    const session = startSession();
    const response = await fetch(`${server.url}/echo`, {
      method: 'POST',
      headers: { ...upstreamHeaders(session), 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world' }),
    });
    session.end();
    expect(await response.json()).toEqual({ session: session.id, body: { hello: 'world' } });
  });

  it('a body that arrives in later packets is parsed and handled in the session', async () => {
    const session = startSession();
    const body = JSON.stringify({ late: true });
    const echo = await rawRequest(server.port, rawPostHead('/echo', upstreamHeaders(session), body.length), body.slice(0, 5), body.slice(5));
    session.end();
    expect(rawJson(echo.body)).toEqual({ session: session.id, body: { late: true } });
  });

  it('error handlers see the session; next(err) and throws are recorded on the span', async () => {
    const session = startSession();
    const boom = await get(server, '/boom', upstreamHeaders(session));
    const thrown = await get(server, '/throw', upstreamHeaders(session));
    session.end();
    expect(boom).toEqual({ status: 500, body: { error: 'boom', session: session.id } });
    expect(thrown).toEqual({ status: 500, body: { error: 'thrown', session: session.id } });

    const boomSpan = await eventually(() => t.one('GET /boom'));
    expect(boomSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(boomSpan.attributes['error.type']).toBe('RangeError');
    expect(boomSpan.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('boom');
    const throwSpan = await eventually(() => t.one('GET /throw'));
    expect(throwSpan.attributes['error.type']).toBe('TypeError');
    expect(throwSpan.attributes['http.response.status_code']).toBe(500);
  });

  it('a 4xx error is recorded without failing the span', async () => {
    const { status } = await get(server, '/bad-request');
    expect(status).toBe(400);
    const span = await eventually(() => t.one('GET /bad-request'));
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('without the error middleware a 5xx still fails the span', async () => {
    const bare = await serve(buildApp(express, undefined, false));
    try {
      await get(bare, '/boom');
      const span = await eventually(() => t.one('GET /boom'));
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toBe('500');
    } finally {
      await bare.close();
    }
  });

  it('a request without context starts a root span outside any session', async () => {
    const { body } = await get(server, '/api/items/1');
    expect(body.session).toBeNull();
    const span = await eventually(() => t.one('GET /api/items/:id'));
    expect(parentSpanId(span)).toBeUndefined();
    expect(span.attributes['agentops.hop.shape']).toBe('root');
  });

  it('adds one non-enumerable symbol to the request and nothing else', async () => {
    const { body } = await get(server, '/api/items/7');
    expect(body.keysAdded).toEqual([]);
    expect(body.symbolsAdded).toEqual([String(HTTP_SERVER_HOP)]);
  });

  it('carries the session to a downstream service, many sessions at once without cross-talk', async () => {
    const sessions = Array.from({ length: 40 }, () => startSession());
    const results = await Promise.all(sessions.map((s) => get(server, '/downstream', upstreamHeaders(s))));
    for (const [i, { body }] of results.entries()) {
      const id = sessions[i]!.id;
      expect(body.session).toBe(id);
      expect(body.downstreamSession).toBe(id);
      expect(String(body.downstreamTraceparent).slice(3, 35)).toBe(id);
    }
    for (const s of sessions) s.end();
    // Every server span landed in its own session's trace.
    const spans = await eventually(() => {
      const found = t.byName('GET /downstream');
      expect(found).toHaveLength(40);
      return found;
    });
    for (const span of spans) expect(span.attributes['session.id']).toBe(span.spanContext().traceId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(40);
  });
});

describe('express trust policy', () => {
  const express = express5;

  async function withApp<T>(options: SessionMiddlewareOptions, fn: (server: RunningServer) => Promise<T>): Promise<T> {
    const server = await serve(buildApp(express, options));
    try {
      return await fn(server);
    } finally {
      await server.close();
    }
  }

  it("'link': a forged session entry is refused; the caller is linked from a new root", async () => {
    const victim = startSession();
    const forged = upstreamHeaders(victim);
    victim.end();
    await withApp({ trust: 'link' }, async (server) => {
      const { body } = await get(server, '/api/items/1', forged);
      expect(body.session).toBeNull();
    });
    const span = await eventually(() => t.one('GET /api/items/:id'));
    expect(span.spanContext().traceId).not.toBe(victim.id);
    expect(parentSpanId(span)).toBeUndefined();
    expect(span.links).toHaveLength(1);
    expect(span.links[0]!.context.traceId).toBe(victim.id);
    expect(span.links[0]!.attributes?.['agentops.link.type']).toBe('predecessor');
    expect(span.attributes['agentops.hop.trust']).toBe('link');
    expect(span.attributes['session.id']).toBeUndefined();
  });

  it("'ignore': nothing of the caller's is used, not even a link", async () => {
    const session = startSession();
    await withApp({ trust: 'ignore' }, async (server) => {
      const { body } = await get(server, '/api/items/1', upstreamHeaders(session));
      expect(body.session).toBeNull();
    });
    session.end();
    const span = await eventually(() => t.one('GET /api/items/:id'));
    expect(span.links).toHaveLength(0);
    expect(span.spanContext().traceId).not.toBe(session.id);
  });

  it('a trust function decides per request', async () => {
    const session = startSession();
    const trust = (req: { path?: string }) => (req.path?.startsWith('/api/items') ? 'trust' : 'link');
    await withApp({ trust: trust as SessionMiddlewareOptions['trust'] }, async (server) => {
      expect((await get(server, '/api/items/1', upstreamHeaders(session))).body.session).toBe(session.id);
      expect((await get(server, '/api/nested/deep', upstreamHeaders(session))).body.session).toBeNull();
    });
    session.end();
  });

  it("'rejoin' parents under the session root and links the caller", async () => {
    const session = startSession();
    await withApp({ shape: 'rejoin' }, async (server) => {
      expect((await get(server, '/api/items/1', upstreamHeaders(session))).body.session).toBe(session.id);
    });
    session.end();
    const span = await eventually(() => t.one('GET /api/items/:id'));
    expect(parentSpanId(span)).toBe(session.rootSpanId);
    expect(span.links[0]!.context.spanId).toBe(t.one('upstream').spanContext().spanId);
  });

  describe('signed session entries', () => {
    const options: SessionMiddlewareOptions = { trust: 'link', signingKey: keyring };

    it('a valid signature makes an untrusted caller trusted', async () => {
      const session = startSession();
      await withApp(options, async (server) => {
        expect((await get(server, '/api/items/1', upstreamHeaders(session, keyring))).body.session).toBe(session.id);
      });
      session.end();
    });

    it('a tampered, foreign-key or expired signature is refused', async () => {
      const session = startSession();
      const good = upstreamHeaders(session, keyring);
      const tampered = { ...good, baggage: good.baggage!.replace(/root=[0-9a-f]{16}/, 'root=0123456789abcdef') };
      const foreign = upstreamHeaders(session, createKeyring('some-other-signing-key-xxxxxxxx'));
      const past = Math.floor(Date.now() / 1000) - 3 * 86_400;
      const entry = { sessionId: session.id, rootSpanId: session.rootSpanId, traceFlags: 3 };
      const expired = {
        traceparent: `00-${session.id}-${session.rootSpanId}-03`,
        baggage: `agentops.session.id=${session.id};root=${session.rootSpanId};flags=03;sig=${signSessionEntry(entry, keyring, past)}`,
      };
      session.end();
      await withApp(options, async (server) => {
        for (const headers of [tampered, foreign, expired]) {
          const { status, body } = await get(server, '/api/items/1', headers);
          expect(status).toBe(200);
          expect(body.session).toBeNull();
        }
      });
    });

    it("with a key, an unsigned entry is refused even under 'trust'", async () => {
      const session = startSession();
      await withApp({ trust: 'trust', signingKey: keyring }, async (server) => {
        expect((await get(server, '/api/items/1', upstreamHeaders(session))).body.session).toBeNull();
      });
      session.end();
    });
  });

  it('mounted twice on one path, the first middleware decides and one span is made', async () => {
    const app = express();
    app.use(sessionMiddleware({ trust: 'link' }));
    const router = express.Router();
    router.use(sessionMiddleware({ trust: 'trust' }));
    router.get('/x', (_req, res) => {
      res.json({ session: getSessionId() ?? null });
    });
    app.use('/r', router);
    const server = await serve(app);
    const session = startSession();
    try {
      expect((await get(server, '/r/x', upstreamHeaders(session))).body.session).toBeNull();
    } finally {
      session.end();
      await server.close();
    }
    await eventually(() => expect(t.byName('GET /r/x')).toHaveLength(1));
  });

  it('invalid options are a TypeError at setup', () => {
    expect(() => sessionMiddleware({ trust: 'maybe' as never })).toThrow(TypeError);
    expect(() => sessionMiddleware({ shape: 'tree' as never })).toThrow(TypeError);
    expect(() => sessionMiddleware({ signingKey: 'short' })).toThrow(TypeError);
    expect(() => sessionMiddleware({ adoptExistingSpan: 1 as never })).toThrow(TypeError);
    expect(() => sessionMiddleware(null as never)).toThrow(TypeError);
  });
});

describe('express hostile headers (server maxHeaderSize 128 KiB)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve(buildApp(express5));
  });
  afterAll(() => server.close());

  const session = () => {
    const s = startSession();
    const headers = upstreamHeaders(s);
    s.end();
    return { id: s.id, headers };
  };

  it('a huge baggage header is answered normally and its session entry past the scan window ignored', async () => {
    const { headers } = session();
    const filler = Array.from({ length: 2500 }, (_, i) => `k${i}=${'v'.repeat(40)}`).join(',');
    expect(filler.length).toBeGreaterThan(100_000);
    const { status, body } = await get(server, '/api/items/1', { baggage: `${filler},${headers.baggage}` });
    expect(status).toBe(200);
    expect(body.session).toBeNull();
  });

  it('a repeated traceparent is dropped', async () => {
    const { id, headers } = session();
    const { status, body } = await rawRequest(server.port, rawHead('/api/items/1', [['traceparent', headers.traceparent!], ['traceparent', headers.traceparent!]]));
    expect(status).toBe(200);
    expect(JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)).session).toBeNull();
    const span = await eventually(() => t.one('GET /api/items/:id'));
    expect(span.spanContext().traceId).not.toBe(id);
  });

  it('binary junk in traceparent, tracestate and baggage is dropped', async () => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => 0x80 + (i % 0x7f)));
    const { status, body } = await rawRequest(
      server.port,
      rawHead('/api/items/1', [
        ['traceparent', junk],
        ['tracestate', junk],
        ['baggage', Buffer.concat([Buffer.from(`agentops.session.id=${'a'.repeat(32)}`), junk])],
      ]),
    );
    expect(status).toBe(200);
    expect(JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)).session).toBeNull();
  });

  it('headers near the size limit with a valid context still work', async () => {
    const { id, headers } = session();
    const { status, body } = await get(server, '/api/items/1', { ...headers, 'x-padding': 'p'.repeat(100_000) });
    expect(status).toBe(200);
    expect(body.session).toBe(id);
  });
});
