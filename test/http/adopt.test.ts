import { diag, DiagLogLevel, SpanKind } from '@opentelemetry/api';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Fastify from 'fastify';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { getSessionId, startSession } from '../../src/index.js';
import { parentSpanId, useTracing, type TestTracing } from '../helpers/otel.js';
import { eventually, listen, upstreamHeaders, type RunningServer } from './helpers.js';

const HTTP_SCOPE = '@opentelemetry/instrumentation-http';
const scopeOf = (span: ReadableSpan) => span.instrumentationScope.name;
const servers = (t: TestTracing) => t.spans().filter((s) => s.kind === SpanKind.SERVER);

const t = useTracing();

async function get(url: string, headers: Record<string, string>): Promise<{ session: string | null }> {
  const response = await fetch(url, { headers });
  return (await response.json()) as { session: string | null };
}

describe('with @opentelemetry/instrumentation-http', () => {
  let instrumentation: HttpInstrumentation;
  let http: typeof import('node:http');
  beforeAll(() => {
    instrumentation = new HttpInstrumentation();
    instrumentation.setTracerProvider(t.provider);
    instrumentation.enable();
    // Loaded after enable(), through require, so that the instrumentation patches it.
    http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  });
  afterAll(() => instrumentation.disable());

  function expressServer(options?: Parameters<typeof sessionMiddleware>[0]): Promise<RunningServer> {
    const app = express();
    app.use(sessionMiddleware(options));
    app.get('/items/:id', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 2));
      res.json({ session: getSessionId() ?? null });
    });
    return listen(undefined, http.createServer(app));
  }

  it("express, 'trust': adopts the instrumentation's server span instead of starting a second one", async () => {
    const server = await expressServer();
    const session = startSession();
    try {
      expect((await get(`${server.url}/items/1`, upstreamHeaders(session))).session).toBe(session.id);
    } finally {
      session.end();
      await server.close();
    }
    const found = await eventually(() => {
      const list = servers(t);
      expect(list).toHaveLength(1);
      return list;
    });
    const span = found[0]!;
    // It really is the instrumentation's span, enriched by us and named by route.
    expect(scopeOf(span)).toBe(HTTP_SCOPE);
    expect(span.name).toBe('GET /items/:id');
    expect(span.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(span)).toBe(t.one('upstream').spanContext().spanId);
    expect(span.attributes).toMatchObject({
      'agentops.hop.shape': 'adopted',
      'agentops.hop.trust': 'trust',
      'http.route': '/items/:id',
      'http.response.status_code': 200,
      'session.id': session.id,
    });
  });

  it("express, 'link': our own root span links the instrumentation's, which already continued the caller", async () => {
    const server = await expressServer({ trust: 'link' });
    const session = startSession();
    try {
      expect((await get(`${server.url}/items/1`, upstreamHeaders(session))).session).toBeNull();
    } finally {
      session.end();
      await server.close();
    }
    const [theirs, ours] = await eventually(() => {
      const list = servers(t);
      expect(list).toHaveLength(2);
      return [list.find((s) => scopeOf(s) === HTTP_SCOPE)!, list.find((s) => scopeOf(s) !== HTTP_SCOPE)!];
    });
    expect(theirs!.spanContext().traceId).toBe(session.id);
    expect(ours!.spanContext().traceId).not.toBe(session.id);
    expect(parentSpanId(ours!)).toBeUndefined();
    expect(ours!.links.map((l) => [l.context.spanId, l.attributes?.['agentops.link.type']])).toContainEqual([
      theirs!.spanContext().spanId,
      'adopted',
    ]);
    expect(ours!.attributes['session.id']).toBeUndefined();
  });

  it("fastify, 'trust': adopts the instrumentation's server span", async () => {
    const app = Fastify({ serverFactory: (handler) => http.createServer(handler) });
    await app.register(sessionPlugin);
    app.post('/work', async () => {
      await new Promise((r) => setTimeout(r, 2));
      return { session: getSessionId() ?? null };
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const session = startSession();
    try {
      const response = await fetch(`${url}/work`, {
        method: 'POST',
        headers: { ...upstreamHeaders(session), 'content-type': 'application/json' },
        body: '{}',
      });
      expect(await response.json()).toEqual({ session: session.id });
    } finally {
      session.end();
      await app.close();
    }
    const span = await eventually(() => {
      const list = servers(t);
      expect(list).toHaveLength(1);
      return list[0]!;
    });
    expect(scopeOf(span)).toBe(HTTP_SCOPE);
    expect(span.name).toBe('POST /work');
    expect(span.attributes['agentops.hop.shape']).toBe('adopted');
    expect(span.attributes['session.id']).toBe(session.id);
  });
});

describe('with @fastify/otel', () => {
  it('registered after sessionPlugin, its spans nest under our SERVER span and the handler keeps the session', async () => {
    const otel = new FastifyOtelInstrumentation();
    otel.setTracerProvider(t.provider);
    const app = Fastify();
    await app.register(sessionPlugin);
    await app.register(otel.plugin());
    app.get('/items/:id', async () => {
      await new Promise((r) => setTimeout(r, 2));
      return { session: getSessionId() ?? null };
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const session = startSession();
    try {
      expect((await get(`${url}/items/1`, upstreamHeaders(session))).session).toBe(session.id);
    } finally {
      session.end();
      await app.close();
    }
    const ours = await eventually(() => t.one('GET /items/:id'));
    const request = await eventually(() => t.one('request'));
    expect(servers(t)).toEqual([ours]);
    expect(request.kind).toBe(SpanKind.INTERNAL);
    expect(parentSpanId(request)).toBe(ours.spanContext().spanId);
    expect(request.attributes['session.id']).toBe(session.id);
  });

  it('registered before sessionPlugin, the wrong order is reported through diag', async () => {
    const warnings: string[] = [];
    const logger = { error() {}, warn: (...args: unknown[]) => warnings.push(args.join(' ')), info() {}, debug() {}, verbose() {} };
    diag.setLogger(logger, DiagLogLevel.WARN);
    const otel = new FastifyOtelInstrumentation();
    otel.setTracerProvider(t.provider);
    const app = Fastify();
    await app.register(otel.plugin());
    await app.register(sessionPlugin);
    app.get('/items/:id', async () => ({ ok: true }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect((await fetch(`${url}/items/1`)).status).toBe(200);
    } finally {
      await app.close();
      diag.disable();
    }
    expect(warnings.filter((w) => w.includes('register sessionPlugin first'))).toHaveLength(1);
  });
});
