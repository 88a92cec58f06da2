/**
 * One HTTP server under test, in a process of its own (instrumentations patch `http` and the
 * framework at load time, so each configuration needs a fresh process). A hello-world JSON route
 * `GET /hello`.
 *
 *   http-server.ts <express|fastify> <bare|floor|hand|ours|ours-metrics|ours-signed|ours-adopt|contrib>
 *
 * - bare: the framework alone, no OTel at all;
 * - floor: what any context-propagating instrumentation pays: the AsyncLocalStorage context
 *   manager and one `context.with` around each request, no span, no propagator;
 * - hand: the hand-written reference (bench/reference/http.ts) on the SDK's provider;
 * - ours: `init({ exporters: [noop] })` + our middleware / plugin making the SERVER span;
 *   ours-metrics: the same with a collecting MetricReader; ours-signed: with a signing key
 *   (callers send signed entries);
 * - ours-adopt: ours + instrumentation-http, whose SERVER span our middleware adopts;
 * - contrib: instrumentation-http + instrumentation-express, or + @fastify/otel, on the SDK's
 *   provider with a BatchSpanProcessor in front of the same no-op exporter.
 */
import { context, createContextKey } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerReferenceFastifyHooks, referenceExpressMiddleware } from '../reference/http.js';
import { settledHeap } from '../lib/heap.js';
import { oursTracing, sdkTracing, type Tracing } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const require = createRequire(import.meta.url);
const [framework, config] = process.argv.slice(2) as [string, string];
const FRAMEWORKS = ['express', 'fastify'];
const CONFIGS = ['bare', 'floor', 'hand', 'ours', 'ours-metrics', 'ours-signed', 'ours-adopt', 'contrib'];

/** The tracing setup and instrumentations, enabled before http and the framework are required. */
async function setUp(): Promise<{ tracing: Tracing | undefined; instrumentations: string[]; fastifyOtel?: { plugin(): unknown } }> {
  const instrumentations: string[] = [];
  let tracing: Tracing | undefined;
  if (config.startsWith('ours')) tracing = await oursTracing({ signed: config === 'ours-signed', metrics: config === 'ours-metrics' });
  if (config === 'contrib' || config === 'hand') tracing = sdkTracing();
  if (config === 'ours-adopt' || config === 'contrib') {
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    new HttpInstrumentation();
    instrumentations.push('@opentelemetry/instrumentation-http');
  }
  if (config === 'contrib' && framework === 'express') {
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    new ExpressInstrumentation();
    instrumentations.push('@opentelemetry/instrumentation-express');
  }
  if (config === 'contrib' && framework === 'fastify') {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    instrumentations.push('@fastify/otel');
    return { tracing, instrumentations, fastifyOtel: new FastifyOtelInstrumentation() };
  }
  return { tracing, instrumentations };
}

/** The floor: one context value set per request, as a hop would, and nothing else. */
function floorRunner(): (next: () => void) => void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const key = createContextKey('bench.request');
  return (next) => context.with(context.active().setValue(key, true), next);
}

interface Listening {
  server: Http.Server;
  close(): Promise<void>;
}

async function express(): Promise<Listening> {
  const http = require('node:http') as typeof Http;
  const expressFn = require('express') as typeof import('express');
  const app = expressFn();
  if (config.startsWith('ours')) {
    const { sessionMiddleware } = await import('agentops-propagation/express');
    app.use(sessionMiddleware());
  }
  if (config === 'hand') app.use(referenceExpressMiddleware() as never);
  if (config === 'floor') {
    const run = floorRunner();
    app.use((_req, _res, next) => run(next));
  }
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function fastify(fastifyOtel: { plugin(): unknown } | undefined): Promise<Listening> {
  const Fastify = require('fastify') as typeof import('fastify').default;
  const app = Fastify({ logger: false });
  if (config.startsWith('ours')) {
    const { sessionPlugin } = await import('agentops-propagation/fastify');
    await app.register(sessionPlugin);
  }
  if (fastifyOtel !== undefined) await app.register(fastifyOtel.plugin() as never);
  if (config === 'hand') registerReferenceFastifyHooks(app as never);
  if (config === 'floor') {
    const run = floorRunner();
    app.addHook('onRequest', (_request, _reply, done) => run(() => done()));
  }
  app.get('/hello', async () => ({ hello: 'world' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { server: app.server, close: () => app.close() };
}

async function main(): Promise<void> {
  if (!FRAMEWORKS.includes(framework) || !CONFIGS.includes(config))
    throw new Error(`usage: http-server.ts <${FRAMEWORKS.join('|')}> <${CONFIGS.join('|')}>`);
  const { tracing, instrumentations, fastifyOtel } = await setUp();
  const { server, close } = framework === 'express' ? await express() : await fastify(fastifyOtel);
  let requests = 0;
  server.on('request', () => requests++);
  const flush = async () => tracing?.flush();

  serve(
    {
      // CPU time this process used and requests it served: the server's own cost per request,
      // which the load generator's speed does not blur.
      usage() {
        const cpu = process.cpuUsage();
        return { cpuMicros: cpu.user + cpu.system, requests };
      },
      async heap() {
        return { heapBytes: await settledHeap(flush), requests };
      },
      // Spans that reached the exporter: proves the configuration really traced the requests.
      async stats() {
        await flush();
        return { exported: tracing?.exported() ?? 0 };
      },
    },
    { port: (server.address() as AddressInfo).port, processor: tracing?.processor ?? 'none', instrumentations, pid: process.pid },
    async () => {
      await close();
      await tracing?.shutdown();
    },
  );
}

main().catch(fatal);
