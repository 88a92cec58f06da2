import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import Fastify5, { type FastifyInstance, type FastifyRequest } from 'fastify';
import Fastify4 from 'fastify4';
import { createServer } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionPlugin, type SessionPluginOptions } from '../../adapters/fastify/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import { createKeyring, getSessionId, startSession } from '../../src/index.js';
import { HTTP_SERVER_HOP } from '../../src/http/server-hop.js';
import { parentSpanId, setupTracing, type TestTracing } from '../helpers/otel.js';
import { MAX_HEADER_SIZE, delay, eventually, rawHead, rawJson, rawPostHead, rawRequest, recordingServer, sessionInBaggage, upstreamHeaders } from './helpers.js';

let t: TestTracing;
let downstream: Awaited<ReturnType<typeof recordingServer>>;
/**
 * Callbacks run from a timer started outside any request: what a callback-style client (a
 * connection pool, an old driver) does when it calls a hook's `done` from its own context.
 */
const foreignQueue: (() => void)[] = [];
let foreignPump: NodeJS.Timeout;
beforeAll(async () => {
  t = setupTracing();
  downstream = await recordingServer();
  foreignPump = context.with(ROOT_CONTEXT, () =>
    setInterval(() => {
      while (foreignQueue.length > 0) foreignQueue.shift()!();
    }, 2),
  );
});
afterEach(() => {
  t.reset();
  downstream.seen.length = 0;
});
afterAll(async () => {
  clearInterval(foreignPump);
  await downstream.close();
  await t.shutdown();
});

const fetchWithSession = sessionFetch();
const keyring = createKeyring('fastify-test-signing-key-0123456789');
type FastifyFactory = typeof Fastify5;

/** What hooks saw, per request (kept beside the request, not on it). */
const hookSessions = new WeakMap<object, Record<string, string | null>>();
function note(request: FastifyRequest, stage: string): void {
  const seen = hookSessions.get(request) ?? {};
  seen[stage] = getSessionId() ?? null;
  hookSessions.set(request, seen);
}

async function buildApp(factory: FastifyFactory, options?: SessionPluginOptions): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = factory({ serverFactory: (handler) => createServer({ maxHeaderSize: MAX_HEADER_SIZE }, handler) }) as FastifyInstance;
  const keysBefore = new WeakMap<object, { keys: string[]; symbols: symbol[] }>();
  // Registered before the plugin: sees the request as Fastify made it.
  app.addHook('onRequest', (request, _reply, done) => {
    keysBefore.set(request, { keys: Object.keys(request), symbols: Object.getOwnPropertySymbols(request) });
    done();
  });
  await app.register(sessionPlugin, options ?? {});
  app.setErrorHandler((error: Error, _request, reply) => {
    void reply.code((error as { statusCode?: number }).statusCode ?? 500).send({ error: error.message, session: getSessionId() ?? null });
  });

  app.get('/items/:id', async (request) => {
    await delay(5);
    await new Promise((r) => setImmediate(r));
    const before = keysBefore.get(request)!;
    return {
      session: getSessionId() ?? null,
      keysAdded: Object.keys(request).filter((k) => !before.keys.includes(k)),
      symbolsAdded: Object.getOwnPropertySymbols(request)
        .filter((s) => !before.symbols.includes(s))
        .map(String),
    };
  });
  app.post('/echo', async (request) => {
    await delay(1);
    return { session: getSessionId() ?? null, body: request.body };
  });
  app.get('/callback-style', (_request, reply) => {
    setTimeout(() => void reply.send({ session: getSessionId() ?? null }), 2);
  });
  app.get('/downstream', async () => {
    await delay(Math.floor(Math.random() * 10));
    const response = await fetchWithSession(`${downstream.url}/record`);
    const seen = (await response.json()) as { headers: Record<string, string> };
    return { session: getSessionId() ?? null, downstreamSession: sessionInBaggage(seen.headers.baggage) ?? null, downstreamTraceparent: seen.headers.traceparent };
  });
  app.get('/boom', async () => {
    await delay(1);
    throw new RangeError('boom');
  });
  app.get('/public', { config: { agentops: { trust: 'link' } } }, async () => ({ session: getSessionId() ?? null }));
  app.get(
    '/route-hooks',
    {
      preValidation: (request, _reply, done) => {
        note(request, 'preValidation');
        done();
      },
      preHandler: [
        async (request) => {
          await delay(1);
          note(request, 'preHandler');
        },
      ],
      onSend: async (request, _reply, payload) => {
        note(request, 'onSend');
        return payload;
      },
      errorHandler: (error, _request, reply) => {
        void reply.code(500).send({ error: error.message, session: getSessionId() ?? null, routeErrorHandler: true });
      },
    },
    async (request, reply) => {
      if ((request.query as { fail?: string }).fail) throw new Error('route failure');
      return reply.send({ session: getSessionId() ?? null });
    },
  );

  // An encapsulated plugin with its own global hooks and routes.
  await app.register(
    async (child) => {
      child.addHook('preHandler', async (request) => {
        await delay(1);
        note(request, 'childPreHandler');
      });
      child.addHook('preParsing', (request, _reply, payload, done) => {
        note(request, 'childPreParsing');
        done(null, payload);
      });
      child.post('/work', async (request) => {
        await delay(2);
        return { session: getSessionId() ?? null, hooks: hookSessions.get(request) ?? {}, body: request.body };
      });
    },
    { prefix: '/plugin' },
  );

  // A plugin whose hooks call `done` from a foreign context.
  await app.register(
    async (child) => {
      child.addHook('preValidation', (_request, _reply, done) => {
        foreignQueue.push(() => done());
      });
      child.addHook('preHandler', (request, _reply, done) => {
        note(request, 'childPreHandler');
        foreignQueue.push(() => done());
      });
      child.get('/work', async (request) => ({ session: getSessionId() ?? null, hooks: hookSessions.get(request) ?? {} }));
    },
    { prefix: '/foreign' },
  );

  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url, port: Number(new URL(url).port) };
}

async function call(url: string, path: string, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
  const text = await response.text();
  return { status: response.status, body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe.each([
  ['fastify 5', Fastify5],
  ['fastify 4', Fastify4 as unknown as FastifyFactory],
])('%s', (_name, factory) => {
  let app: FastifyInstance;
  let url: string;
  let port: number;
  beforeAll(async () => {
    ({ app, url, port } = await buildApp(factory));
  });
  afterAll(() => app.close());

  it('continues the session across awaits, with a semconv SERVER span named by route', async () => {
    const session = startSession();
    const { status, body } = await call(url, '/items/9?token=secret', { ...upstreamHeaders(session), 'user-agent': 'agent-test/2.0' });
    session.end();
    expect(status).toBe(200);
    expect(body.session).toBe(session.id);
    const span = await eventually(() => t.one('GET /items/:id'));
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(span)).toBe(t.one('upstream').spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/items/:id',
      'url.path': '/items/9',
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': port,
      'client.address': '127.0.0.1',
      'user_agent.original': 'agent-test/2.0',
      'network.protocol.version': '1.1',
      'session.id': session.id,
    });
    expect(JSON.stringify(span.attributes)).not.toContain('secret');
  });

  it('the handler runs in the session after body parsing, and in callback style', async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const echo = await call(url, '/echo', { ...headers, 'content-type': 'application/json' }, { method: 'POST', body: JSON.stringify({ a: 1 }) });
    const callback = await call(url, '/callback-style', headers);
    session.end();
    expect(echo.body).toEqual({ session: session.id, body: { a: 1 } });
    expect(callback.body.session).toBe(session.id);
  });

  it('a body that arrives after the hooks ran is parsed and handled in the session', async () => {
    const session = startSession();
    const body = JSON.stringify({ late: true });
    const echo = await rawRequest(port, rawPostHead('/echo', upstreamHeaders(session), body.length), body.slice(0, 5), body.slice(5));
    const child = await rawRequest(port, rawPostHead('/plugin/work', upstreamHeaders(session), body.length), body.slice(0, 5), body.slice(5));
    session.end();
    expect(rawJson(echo.body)).toEqual({ session: session.id, body: { late: true } });
    expect(rawJson(child.body)).toEqual({ session: session.id, hooks: { childPreParsing: session.id, childPreHandler: session.id }, body: { late: true } });
  });

  it('hooks that call done from a foreign context do not take the session from later hooks and the handler', async () => {
    const session = startSession();
    const { body } = await call(url, '/foreign/work', upstreamHeaders(session));
    session.end();
    expect(body).toEqual({ session: session.id, hooks: { childPreHandler: session.id } });
  });

  it('route hooks, route error handler, encapsulated plugins and their hooks see the session', async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const hooks = await call(url, '/route-hooks', headers);
    const failing = await call(url, '/route-hooks?fail=1', headers);
    const child = await call(url, '/plugin/work', { ...headers, 'content-type': 'application/json' }, { method: 'POST', body: '{"x":true}' });
    session.end();
    expect(hooks.body.session).toBe(session.id);
    expect(failing).toEqual({ status: 500, body: { error: 'route failure', session: session.id, routeErrorHandler: true } });
    expect(child.body).toEqual({ session: session.id, hooks: { childPreParsing: session.id, childPreHandler: session.id }, body: { x: true } });
  });

  it('route-level hooks run in the session (checked from the hooks)', async () => {
    const session = startSession();
    const seen: Record<string, string | null>[] = [];
    const local = factory() as FastifyInstance;
    await local.register(sessionPlugin);
    local.get(
      '/h',
      {
        preValidation: (request, _reply, done) => {
          note(request, 'preValidation');
          done();
        },
        preHandler: async (request) => {
          await delay(1);
          note(request, 'preHandler');
        },
        onSend: async (request, _reply, payload) => {
          note(request, 'onSend');
          return payload;
        },
        onResponse: (request, _reply, done) => {
          note(request, 'onResponse');
          seen.push(hookSessions.get(request)!);
          done();
        },
      },
      async () => ({ ok: true }),
    );
    const address = await local.listen({ port: 0, host: '127.0.0.1' });
    try {
      await call(address, '/h', upstreamHeaders(session));
      await eventually(() => expect(seen).toHaveLength(1));
    } finally {
      session.end();
      await local.close();
    }
    expect(seen[0]).toEqual({ preValidation: session.id, preHandler: session.id, onSend: session.id, onResponse: session.id });
  });

  it('errors reach the error handler in the session and are recorded on the span', async () => {
    const session = startSession();
    const { status, body } = await call(url, '/boom', upstreamHeaders(session));
    session.end();
    expect(status).toBe(500);
    expect(body).toEqual({ error: 'boom', session: session.id });
    const span = await eventually(() => t.one('GET /boom'));
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('RangeError');
    expect(span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('boom');
  });

  it("per-route config: a 'link' route refuses the session", async () => {
    const session = startSession();
    const { body } = await call(url, '/public', upstreamHeaders(session));
    session.end();
    expect(body.session).toBeNull();
    const span = await eventually(() => t.one('GET /public'));
    expect(span.attributes['agentops.hop.trust']).toBe('link');
    expect(span.links[0]?.context.traceId).toBe(session.id);
  });

  it('a 404 gets a span named by method only', async () => {
    const { status } = await call(url, '/does-not-exist');
    expect(status).toBe(404);
    const span = await eventually(() => t.one('GET'));
    expect(span.attributes['http.response.status_code']).toBe(404);
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('adds one symbol to the request (its decorator) and nothing else', async () => {
    const { body } = await call(url, '/items/1');
    expect(body.keysAdded).toEqual([]);
    // Our decorator is set by Fastify's request constructor, before any hook: nothing of ours is
    // added later (Fastify adds symbols of its own while reading the body).
    expect((body.symbolsAdded as string[]).filter((s) => s.includes('agentops'))).toEqual([]);
    expect(String(HTTP_SERVER_HOP)).toBe('Symbol(agentops-propagation.http-server-hop)');
  });

  it('many concurrent sessions reach downstream services without cross-talk', async () => {
    const sessions = Array.from({ length: 40 }, () => startSession());
    const results = await Promise.all(sessions.map((s) => call(url, '/downstream', upstreamHeaders(s))));
    for (const [i, { body }] of results.entries()) {
      const id = sessions[i]!.id;
      expect(body.session).toBe(id);
      expect(body.downstreamSession).toBe(id);
      expect(String(body.downstreamTraceparent).slice(3, 35)).toBe(id);
    }
    for (const s of sessions) s.end();
    const spans = await eventually(() => {
      const found = t.byName('GET /downstream');
      expect(found).toHaveLength(40);
      return found;
    });
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(40);
    for (const span of spans) expect(span.attributes['session.id']).toBe(span.spanContext().traceId);
  });

  it('hostile headers are answered normally and dropped', async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    session.end();
    const filler = Array.from({ length: 2500 }, (_, i) => `k${i}=${'v'.repeat(40)}`).join(',');
    const huge = await call(url, '/items/1', { baggage: `${filler},${headers.baggage}` });
    expect(huge.status).toBe(200);
    expect(huge.body.session).toBeNull();

    const repeated = await rawRequest(port, rawHead('/items/1', [['traceparent', headers.traceparent!], ['traceparent', headers.traceparent!]]));
    expect(repeated.status).toBe(200);
    expect(JSON.parse(repeated.body.slice(repeated.body.indexOf('{'), repeated.body.lastIndexOf('}') + 1)).session).toBeNull();

    const junk = Buffer.from(Array.from({ length: 4096 }, (_, i) => 0x80 + (i % 0x7f)));
    const binary = await rawRequest(port, rawHead('/items/1', [['traceparent', junk], ['baggage', junk], ['tracestate', junk]]));
    expect(binary.status).toBe(200);
    expect(JSON.parse(binary.body.slice(binary.body.indexOf('{'), binary.body.lastIndexOf('}') + 1)).session).toBeNull();
    const spans = await eventually(() => {
      const found = t.byName('GET /items/:id');
      expect(found).toHaveLength(3);
      return found;
    });
    for (const span of spans) expect(span.spanContext().traceId).not.toBe(session.id);
  });
});

describe('fastify plugin options', () => {
  it('invalid plugin options fail registration with a TypeError', async () => {
    const app = Fastify5();
    await expect(app.register(sessionPlugin, { trust: 'sometimes' as never })).rejects.toThrow(TypeError);
  });

  it('invalid per-route config is a TypeError when the route is added', async () => {
    const app = Fastify5();
    await app.register(sessionPlugin);
    expect(() => app.get('/x', { config: { agentops: { trust: 'nope' as never } } }, async () => 'x')).toThrow(TypeError);
  });

  it('a valid signed entry trusts a caller the policy links', async () => {
    const { app, url } = await buildApp(Fastify5, { trust: 'link', signingKey: keyring });
    const session = startSession();
    try {
      expect((await call(url, '/items/1', upstreamHeaders(session, keyring))).body.session).toBe(session.id);
      expect((await call(url, '/items/1', upstreamHeaders(session))).body.session).toBeNull();
    } finally {
      session.end();
      await app.close();
    }
  });

  it('keeps async-hook validation: an async hook taking done is still rejected by Fastify', async () => {
    const badHook = async (_request: unknown, _reply: unknown, _done: unknown) => undefined;
    for (const withPlugin of [false, true]) {
      const app = Fastify5();
      if (withPlugin) await app.register(sessionPlugin);
      expect(() => app.get('/bad', { preHandler: [badHook as never] }, async () => 'x')).toThrow(/async/i);
    }
  });
});
