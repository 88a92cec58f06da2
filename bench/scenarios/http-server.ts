/**
 * One HTTP server under test, in a process of its own (instrumentations patch `http` and the
 * framework at load time, so each configuration needs a fresh process). A hello-world JSON route
 * `GET /hello`.
 *
 *   http-server.ts <express|fastify> <bare|context-only|ours|ours-adopt|contrib>
 *
 * - bare: the framework alone, no OTel at all;
 * - context-only: the floor of any context-propagating instrumentation: the AsyncLocalStorage
 *   context manager and one `context.with` around each request, no span, no propagator;
 * - ours: `init({ exporters: [noop] })` + our middleware / plugin making the SERVER span;
 * - ours-adopt: the same + instrumentation-http, whose SERVER span our middleware adopts;
 * - contrib: instrumentation-http + instrumentation-express, or + @fastify/otel, on the SDK's
 *   provider with a BatchSpanProcessor in front of the same no-op exporter.
 */
import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lib } from '../lib/build.js';
import { contribTracing, oursTracing, type Tracing } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const require = createRequire(import.meta.url);
const [framework, config] = process.argv.slice(2) as [string, string];
const FRAMEWORKS = ['express', 'fastify'];
const CONFIGS = ['bare', 'context-only', 'ours', 'ours-adopt', 'contrib'];

async function main(): Promise<void> {
  if (!FRAMEWORKS.includes(framework) || !CONFIGS.includes(config)) throw new Error(`usage: http-server.ts <${FRAMEWORKS.join('|')}> <${CONFIGS.join('|')}>`);
  let tracing: Tracing | undefined;
  const instrumentations: string[] = [];

  if (config === 'ours' || config === 'ours-adopt') tracing = await oursTracing();
  if (config === 'contrib') tracing = contribTracing();
  if (config === 'ours-adopt' || config === 'contrib') {
    // Enabled before http and the framework are required, so the require hooks patch them.
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    new HttpInstrumentation();
    instrumentations.push('@opentelemetry/instrumentation-http');
  }
  let fastifyOtel: { plugin(): unknown } | undefined;
  if (config === 'contrib' && framework === 'express') {
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    new ExpressInstrumentation();
    instrumentations.push('@opentelemetry/instrumentation-express');
  }
  if (config === 'contrib' && framework === 'fastify') {
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    fastifyOtel = new FastifyOtelInstrumentation();
    instrumentations.push('@fastify/otel');
  }

  // The context every request of 'context-only' runs in: one value set, as a hop would.
  let contextOnly: ((next: () => void) => void) | undefined;
  if (config === 'context-only') {
    const { context, createContextKey } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const key = createContextKey('bench.request');
    contextOnly = (next) => context.with(context.active().setValue(key, true), next);
  }

  const http = require('node:http') as typeof Http;
  let port: number;
  let close: () => Promise<void>;
  let requests = 0;
  if (framework === 'express') {
    const express = require('express') as typeof import('express');
    const app = express();
    if (config === 'ours' || config === 'ours-adopt') {
      const { sessionMiddleware } = await lib('express');
      app.use(sessionMiddleware());
    }
    if (contextOnly !== undefined) {
      const run = contextOnly;
      app.use((_req, _res, next) => run(next));
    }
    app.get('/hello', (_req, res) => {
      res.json({ hello: 'world' });
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => server.close(() => resolve()));
    server.on('request', () => requests++);
  } else {
    const Fastify = require('fastify') as typeof import('fastify').default;
    const app = Fastify({ logger: false });
    if (config === 'ours' || config === 'ours-adopt') {
      const { sessionPlugin } = await lib('fastify');
      await app.register(sessionPlugin);
    }
    if (fastifyOtel !== undefined) await app.register(fastifyOtel.plugin() as never);
    if (contextOnly !== undefined) {
      const run = contextOnly;
      app.addHook('onRequest', (_request, _reply, done) => run(() => done()));
    }
    app.get('/hello', async () => ({ hello: 'world' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    close = () => app.close();
    app.server.on('request', () => requests++);
  }

  serve(
    {
      // CPU time this process used and requests it served: the server's own cost per request,
      // which the load generator's speed does not blur.
      usage() {
        const cpu = process.cpuUsage();
        return { cpuMicros: cpu.user + cpu.system, requests };
      },
      // Spans that reached the exporter: proves the configuration really traced the requests.
      async stats() {
        await tracing?.flush();
        return { exported: tracing?.exported() ?? 0 };
      },
    },
    { port, processor: tracing?.processor ?? 'none', instrumentations, pid: process.pid },
    async () => {
      await close();
      await tracing?.shutdown();
    },
  );
}

main().catch(fatal);
