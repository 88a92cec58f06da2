/**
 * The contract every HTTP server adapter keeps, run on Express 4 and 5 (sessionMiddleware) and
 * Fastify 4 and 5 (sessionPlugin) from one set of routes. What only one framework has (routers,
 * sessionErrorHandler, Fastify hooks and encapsulation) is in express.test.ts and fastify.test.ts.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFetch } from '../../adapters/http/index.js';
import { createKeyring, startSession, type SigningKeyring } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import {
  delay,
  eventually,
  postInPackets,
  rawHead,
  rawJson,
  rawRequest,
  recordingServer,
  sessionInBaggage,
  upstreamHeaders,
} from './helpers.js';
import {
  HTTP_SERVER_HOP,
  INVALID_OPTIONS,
  SERVER_ADAPTERS,
  currentSession,
  request,
  signSessionEntry,
  withServer,
  type FrameworkRequest,
  type Route,
  type TestServer,
} from './servers.js';

const t = useTracing();
const keyring = createKeyring('server-contract-signing-key-0123456789');
const fetchWithSession = sessionFetch();

let downstream: Awaited<ReturnType<typeof recordingServer>>;
beforeAll(async () => {
  downstream = await recordingServer();
});
afterAll(() => downstream.close());

/** The routes every adapter serves. */
const routes: Route[] = [
  {
    path: '/items/:id',
    handler: async (req) => {
      await delay(5);
      await new Promise((r) => setImmediate(r));
      return { session: currentSession(), footprint: req.footprint() };
    },
  },
  {
    method: 'POST',
    path: '/echo',
    handler: async (req) => {
      await delay(1);
      return { session: currentSession(), body: req.body };
    },
  },
  {
    path: '/callback-style',
    handler: (req) => {
      setTimeout(() => req.respond({ session: currentSession() }), 2);
    },
  },
  {
    path: '/downstream',
    handler: async () => {
      await delay(Math.floor(Math.random() * 10));
      const response = await fetchWithSession(`${downstream.url}/record`);
      const seen = (await response.json()) as { headers: Record<string, string> };
      return {
        session: currentSession(),
        downstreamSession: sessionInBaggage(seen.headers.baggage) ?? null,
        downstreamTraceparent: seen.headers.traceparent,
      };
    },
  },
  {
    path: '/boom',
    handler: async () => {
      await delay(1);
      throw new RangeError('boom');
    },
  },
  {
    path: '/throw',
    handler: () => {
      throw new TypeError('thrown');
    },
  },
  {
    path: '/bad-request',
    handler: () => {
      throw Object.assign(new Error('bad input'), { statusCode: 400 });
    },
  },
  { path: '/public', trust: 'link', handler: () => ({ session: currentSession() }) },
];

/** The one span of that name, once it has ended (spans end on the response's `finish`). */
const ended = (name: string): Promise<ReadableSpan> => eventually(() => t.one(name));

const exceptionMessage = (span: ReadableSpan): unknown =>
  span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message'];

/** A caller's headers, its session already ended. */
function caller(signing: SigningKeyring | null = null): { id: string; headers: Record<string, string> } {
  const session = startSession();
  const headers = upstreamHeaders(session, signing);
  session.end();
  return { id: session.id, headers };
}

describe.each(SERVER_ADAPTERS)('$name', (adapter) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await adapter.start({ routes });
  });
  afterAll(() => server.close());

  it('continues the session across awaits, with a semconv SERVER span named by route', async () => {
    const session = startSession({ name: 'caller' });
    const { status, body } = await request(server, '/items/42?q=secret', { ...upstreamHeaders(session), 'user-agent': 'agent-test/1.0' });
    session.end();
    expect(status).toBe(200);
    expect(body.session).toBe(session.id);

    const span = await ended('GET /items/:id');
    // A SERVER span in the caller's trace, the child of the caller's span.
    expect(span.kind).toBe(SpanKind.SERVER);
    expect({ trace: span.spanContext().traceId, parent: parentSpanId(span) }).toEqual({
      trace: session.id,
      parent: t.one('upstream').spanContext().spanId,
    });
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/items/:id',
      'url.path': '/items/42',
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

  it('the handler runs in the session after body parsing, and when it answers from a callback', async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const echo = await request(server, '/echo', headers, { hello: 'world' });
    const callback = await request(server, '/callback-style', headers);
    session.end();
    expect(echo).toEqual({ status: 200, body: { session: session.id, body: { hello: 'world' } } });
    expect(callback).toEqual({ status: 200, body: { session: session.id } });
  });

  it('a body that arrives in later packets is parsed and handled in the session', async () => {
    const session = startSession();
    const echo = await postInPackets(server.port, '/echo', upstreamHeaders(session), { late: true });
    session.end();
    expect(echo).toEqual({ session: session.id, body: { late: true } });
  });

  it('errors, rejected or thrown, reach the error handler in the session and fail the span', async () => {
    const session = startSession();
    const boom = await request(server, '/boom', upstreamHeaders(session));
    const thrown = await request(server, '/throw', upstreamHeaders(session));
    session.end();
    expect(boom).toEqual({ status: 500, body: { error: 'boom', session: session.id } });
    expect(thrown).toEqual({ status: 500, body: { error: 'thrown', session: session.id } });

    for (const [route, type, message] of [
      ['/boom', 'RangeError', 'boom'],
      ['/throw', 'TypeError', 'thrown'],
    ]) {
      const span = await ended(`GET ${route}`);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toBe(type);
      expect(span.attributes['http.response.status_code']).toBe(500);
      expect(exceptionMessage(span)).toBe(message);
    }
  });

  it('a 4xx error is recorded without failing the span', async () => {
    const { status } = await request(server, '/bad-request');
    expect(status).toBe(400);
    const span = await ended('GET /bad-request');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes['error.type']).toBeUndefined();
    expect(exceptionMessage(span)).toBe('bad input');
  });

  it('a 404 gets a span named by method only', async () => {
    const { status } = await request(server, '/does-not-exist');
    expect(status).toBe(404);
    const span = await ended('GET');
    expect(span.attributes['http.response.status_code']).toBe(404);
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a request without context starts a root span outside any session', async () => {
    const { body } = await request(server, '/items/1');
    expect(body.session).toBeNull();
    const span = await ended('GET /items/:id');
    expect(parentSpanId(span)).toBeUndefined();
    expect(span.attributes['agentops.hop.shape']).toBe('root');
  });

  it('adds nothing to the request but the hop, under HTTP_SERVER_HOP', async () => {
    const { body } = await request(server, '/items/7');
    // Express adds the hop as the request passes; Fastify's request constructor sets the
    // plugin's decorator before any hook, so nothing of ours is added later.
    expect(body.footprint).toEqual({
      afterAdapter: { keys: [], symbols: adapter.hopSymbolsAdded },
      libraryAtHandler: adapter.hopSymbolsAdded,
    });
    expect(String(HTTP_SERVER_HOP)).toBe('Symbol(agentops-propagation.http-server-hop)');
  });

  it('carries the session to a downstream service, many sessions at once without cross-talk', async () => {
    const sessions = Array.from({ length: 40 }, () => startSession());
    const results = await Promise.all(sessions.map((s) => request(server, '/downstream', upstreamHeaders(s))));
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

  describe('trust policy', () => {
    it("'link': a forged session entry is refused; the caller is linked from a new root", async () => {
      const victim = caller();
      await withServer(adapter.start({ options: { trust: 'link' }, routes }), async (linking) => {
        expect((await request(linking, '/items/1', victim.headers)).body.session).toBeNull();
      });
      const span = await ended('GET /items/:id');
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
      await withServer(adapter.start({ options: { trust: 'ignore' }, routes }), async (ignoring) => {
        expect((await request(ignoring, '/items/1', upstreamHeaders(session))).body.session).toBeNull();
      });
      session.end();
      const span = await ended('GET /items/:id');
      expect(span.links).toHaveLength(0);
      expect(span.spanContext().traceId).not.toBe(session.id);
    });

    it('a trust function decides per request', async () => {
      const session = startSession();
      const trust = (req: FrameworkRequest) => (req.url.startsWith('/items') ? 'trust' : 'link');
      await withServer(adapter.start({ options: { trust }, routes }), async (deciding) => {
        expect((await request(deciding, '/items/1', upstreamHeaders(session))).body.session).toBe(session.id);
        expect((await request(deciding, '/callback-style', upstreamHeaders(session))).body.session).toBeNull();
      });
      session.end();
    });

    it("a route's own trust replaces the adapter's: a 'link' route refuses the session", async () => {
      const session = startSession();
      const { body } = await request(server, '/public', upstreamHeaders(session));
      session.end();
      expect(body.session).toBeNull();
      const span = await ended('GET /public');
      expect(span.attributes['agentops.hop.trust']).toBe('link');
      expect(span.links[0]?.context.traceId).toBe(session.id);
    });

    it("'rejoin' parents under the session root and links the caller", async () => {
      const session = startSession();
      await withServer(adapter.start({ options: { shape: 'rejoin' }, routes }), async (rejoining) => {
        expect((await request(rejoining, '/items/1', upstreamHeaders(session))).body.session).toBe(session.id);
      });
      session.end();
      const span = await ended('GET /items/:id');
      expect(parentSpanId(span)).toBe(session.rootSpanId);
      expect(span.links[0]!.context.spanId).toBe(t.one('upstream').spanContext().spanId);
    });

    for (const [what, options] of INVALID_OPTIONS) {
      if (options === null && adapter.nullOptions === 'defaults') {
        it('null options are the defaults (the framework replaces them with {})', async () => {
          const { id, headers } = caller();
          const answer = await withServer(adapter.start({ options, routes }), (s) => request(s, '/items/1', headers));
          expect(answer).toMatchObject({ status: 200, body: { session: id } });
        });
        continue;
      }
      it(`${what} is a TypeError at setup`, async () => {
        await expect(withServer(adapter.start({ options, routes }), async () => undefined)).rejects.toThrow(TypeError);
      });
    }
  });

  describe('signed session entries', () => {
    const linkWithKey = { options: { trust: 'link' as const, signingKey: keyring }, routes };

    it('a valid signature joins a caller the policy links only with signedUpgrade; unsigned, it stays linked (issue 13)', async () => {
      const signed = caller(keyring);
      const unsigned = caller();
      await withServer(adapter.start(linkWithKey), async (verifying) => {
        expect((await request(verifying, '/items/1', signed.headers)).body.session).toBeNull();
      });
      const upgrading = { options: { ...linkWithKey.options, signedUpgrade: true }, routes };
      await withServer(adapter.start(upgrading), async (verifying) => {
        expect((await request(verifying, '/items/1', signed.headers)).body.session).toBe(signed.id);
        expect((await request(verifying, '/items/1', unsigned.headers)).body.session).toBeNull();
      });
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
      await withServer(adapter.start(linkWithKey), async (verifying) => {
        for (const headers of [tampered, foreign, expired]) {
          expect(await request(verifying, '/items/1', headers)).toMatchObject({ status: 200, body: { session: null } });
        }
      });
    });

    it("with a key, an unsigned entry is refused even under 'trust'", async () => {
      const unsigned = caller();
      await withServer(adapter.start({ options: { trust: 'trust', signingKey: keyring }, routes }), async (verifying) => {
        expect((await request(verifying, '/items/1', unsigned.headers)).body.session).toBeNull();
      });
    });
  });

  describe('hostile headers (server maxHeaderSize 128 KiB)', () => {
    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => 0x80 + (i % 0x7f)));

    it('a huge baggage header is answered normally and its session entry past the scan window ignored', async () => {
      const { id, headers } = caller();
      const filler = Array.from({ length: 2500 }, (_, i) => `k${i}=${'v'.repeat(40)}`).join(',');
      expect(filler.length).toBeGreaterThan(100_000);
      const huge = await request(server, '/items/1', { baggage: `${filler},${headers.baggage}` });
      expect(huge).toMatchObject({ status: 200, body: { session: null } });
      expect((await ended('GET /items/:id')).spanContext().traceId).not.toBe(id);
    });

    it('a repeated traceparent is dropped', async () => {
      const { id, headers } = caller();
      const twice = rawHead('/items/1', [
        ['traceparent', headers.traceparent!],
        ['traceparent', headers.traceparent!],
      ]);
      const { status, body } = await rawRequest(server.port, twice);
      expect(status).toBe(200);
      expect(rawJson(body).session).toBeNull();
      expect((await ended('GET /items/:id')).spanContext().traceId).not.toBe(id);
    });

    it.each([
      ['plain', junk],
      ['after a session entry', Buffer.concat([Buffer.from(`agentops.session.id=${'a'.repeat(32)}`), junk])],
    ])('binary junk in traceparent, tracestate and baggage (%s) is dropped', async (_what, baggage) => {
      const { status, body } = await rawRequest(
        server.port,
        rawHead('/items/1', [
          ['traceparent', junk],
          ['tracestate', junk],
          ['baggage', baggage],
        ]),
      );
      expect(status).toBe(200);
      expect(rawJson(body).session).toBeNull();
      expect((await ended('GET /items/:id')).attributes['agentops.hop.shape']).toBe('root');
    });

    it('headers near the size limit with a valid context still work', async () => {
      const { id, headers } = caller();
      const padded = await request(server, '/items/1', { ...headers, 'x-padding': 'p'.repeat(100_000) });
      expect(padded).toMatchObject({ status: 200, body: { session: id } });
    });
  });
});
