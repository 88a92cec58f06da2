// The request's headers object is the caller's data: under init (whose subscriber judges every
// request for the global extract) and the framework adapter, alone and beside the stock
// instrumentation-http, it keeps exactly what Node put in it. The verdict lives beside it
// (docs/http.md, "What is added to your objects").
import { context, propagation, trace } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import Fastify from 'fastify';
import type { IncomingHttpHeaders, RequestListener, Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { inboundVerdict } from '../../src/http/inbound-trust.js';
import { init, type InitHandle } from '../../src/index.js';

const SESSION = '5a1e5e55000000000000000000000def';
const CALLER = {
  traceparent: `00-${SESSION}-00f067aa0ba902b7-01`,
  baggage: `agentops.session.id=${SESSION},agentops.session.root=1111222233334444,agentops.session.flags=03`,
  'x-app': 'kept',
};

/** What the handler saw on the headers object: everything own, enumerable or not, and the verdict. */
function headersSeen(headers: IncomingHttpHeaders) {
  return {
    names: Object.getOwnPropertyNames(headers).sort(),
    keys: Object.keys(headers).sort(),
    symbols: Object.getOwnPropertySymbols(headers).map(String),
    values: { traceparent: headers.traceparent, baggage: headers.baggage, 'x-app': headers['x-app'] },
    verdict: inboundVerdict(headers),
    // Whose span the handler runs in: instrumentation-http's, adopted by the hop, when it is on.
    scope: (trace.getActiveSpan() as { instrumentationScope?: { name?: string } } | undefined)?.instrumentationScope?.name,
  };
}

type Seen = ReturnType<typeof headersSeen>;

/** GET /h on an Express app with the middleware, served by `createServer`; what the handler saw. */
async function expressSeen(createServer: (app: RequestListener) => Server): Promise<Seen> {
  const app = express();
  app.use(sessionMiddleware());
  app.get('/h', (req, res) => void res.json(headersSeen(req.headers)));
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return (await (await fetch(`http://127.0.0.1:${port}/h`, { headers: CALLER })).json()) as Seen;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

let handle: InitHandle;
beforeAll(() => {
  handle = init({ serviceName: 'headers-footprint', exporters: [new InMemorySpanExporter()] });
});
afterAll(async () => {
  await handle.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

function expectUntouched(seen: Seen): void {
  expect(seen.verdict).toBe('trust'); // init's subscriber judged this request (a loopback caller)
  expect(seen.symbols).toEqual([]);
  expect(seen.names).toEqual(seen.keys);
  expect(seen.keys).toEqual(expect.arrayContaining(['traceparent', 'baggage', 'x-app']));
  expect(seen.values).toEqual(CALLER);
}

describe('the request headers object under init and the adapters', () => {
  it('Express: nothing added to req.headers, values as sent', async () => {
    const { createServer } = await import('node:http');
    const seen = await expressSeen((app) => createServer(app));
    expectUntouched(seen);
    expect(seen.scope).not.toBe('@opentelemetry/instrumentation-http');
  });

  it('Express beside the stock instrumentation-http (its span adopted): nothing added to req.headers', async () => {
    const instrumentation = new HttpInstrumentation();
    try {
      // The CommonJS module the instrumentation patches, as an application's require gets it.
      const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
      const seen = await expressSeen((app) => http.createServer(app));
      expectUntouched(seen);
      expect(seen.scope).toBe('@opentelemetry/instrumentation-http');
    } finally {
      instrumentation.disable();
    }
  });

  it('Fastify: nothing added to request.headers, values as sent', async () => {
    const app = Fastify();
    await app.register(sessionPlugin);
    app.get('/h', async (request) => headersSeen(request.headers));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      expectUntouched((await (await fetch(`http://127.0.0.1:${port}/h`, { headers: CALLER })).json()) as Seen);
    } finally {
      await app.close();
    }
  });
});
