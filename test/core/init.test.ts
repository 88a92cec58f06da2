import { initKeyring } from '../../src/policy/signing.js';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { init, SessionSpanProcessor, startSession, withAgent, withSession, type InitHandle } from '../../src/index.js';
import { resolveOtlpEndpoint } from '../../src/sdk/otlp.js';

/** A local server speaking AgentOps' token exchange and accepting OTLP/HTTP JSON. */
async function fakeAgentOps() {
  const tokenRequests: unknown[] = [];
  const exports: { authorization: string | undefined; spanNames: string[] }[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/v3/auth/token' && req.method === 'POST') {
      tokenRequests.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'tok-123' }));
      return;
    }
    if (req.url === '/v1/traces' && req.method === 'POST') {
      const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] };
      const spanNames = parsed.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => sp.name)));
      exports.push({ authorization: req.headers.authorization, spanNames });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, tokenRequests, exports, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let handle: InitHandle | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('resolveOtlpEndpoint', () => {
  it('prefers the option, then the traces URL, then the base URL + /v1/traces, then AgentOps', () => {
    expect(resolveOtlpEndpoint('http://opt/v1/traces', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t' })).toBe('http://opt/v1/traces');
    expect(
      resolveOtlpEndpoint(undefined, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b' }),
    ).toBe('http://t/x');
    expect(resolveOtlpEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318/', AGENTOPS_EXPORTER_ENDPOINT: 'http://a' })).toBe(
      'http://b:4318/v1/traces',
    );
    expect(resolveOtlpEndpoint(undefined, { AGENTOPS_EXPORTER_ENDPOINT: 'http://a/v1/traces' })).toBe('http://a/v1/traces');
    expect(resolveOtlpEndpoint(undefined, {})).toBeUndefined();
  });
});

describe('init', () => {
  it('exchanges the API key for a token and sends it as a bearer on every OTLP export', async () => {
    const agentops = await fakeAgentOps();
    try {
      handle = init({
        serviceName: 'svc',
        apiKey: 'key-abc',
        apiEndpoint: agentops.base,
        otlpEndpoint: `${agentops.base}/v1/traces`,
        otlpProtocol: 'http/json',
      });
      expect(handle.ownsProvider).toBe(true);
      const session = startSession({ name: 'first' });
      withSession(session, () => withAgent('a', () => undefined));
      session.end();
      await handle.forceFlush();
      startSession({ name: 'second' }).end();
      await handle.forceFlush();
      expect(agentops.tokenRequests).toEqual([{ api_key: 'key-abc' }]);
      expect(agentops.exports.length).toBeGreaterThanOrEqual(2);
      expect(agentops.exports.every((e) => e.authorization === 'Bearer tok-123')).toBe(true);
      expect(agentops.exports.flatMap((e) => e.spanNames).sort()).toEqual(['a.agent', 'first.session', 'second.session']);
      expect(handle.stats()).toMatchObject({ spansExported: 3, spansDropped: 0, spansQueued: 0 });
    } finally {
      // Shut down while the fake still answers: the metrics' last export goes there too.
      await handle?.shutdown();
      handle = undefined;
      await agentops.close();
    }
  });

  it('counts spans dropped when the exporter refuses connections, without surfacing errors', async () => {
    const agentops = await fakeAgentOps();
    const deadUrl = `${agentops.base}/v1/traces`;
    await agentops.close();
    handle = init({ otlpEndpoint: deadUrl, exportQueue: { exportTimeoutMillis: 2000 } });
    for (let i = 0; i < 5; i++) startSession().end();
    await handle.forceFlush();
    expect(handle.stats()).toMatchObject({ spansExported: 0, spansDropped: 5 });
  });

  it('bounds the queue: spans beyond maxQueueSize are dropped and counted', async () => {
    const never = { export: () => undefined, shutdown: async () => undefined };
    handle = init({
      exporters: [never],
      exportQueue: {
        maxQueueSize: 10,
        maxExportBatchSize: 10,
        maxConcurrentExports: 1,
        exportTimeoutMillis: 200,
        scheduledDelayMillis: 60_000,
      },
    });
    for (let i = 0; i < 25; i++) startSession().end();
    // 10 in the one export allowed in flight, 10 queued, 5 refused at the door, at once.
    expect(handle.stats()).toMatchObject({ spansExported: 0, spansDropped: 5 });
    await handle.forceFlush();
    // The flush resolves at its deadline; the black-holed exports are counted dropped when their
    // own timeout (the same 200 ms) fires, which may come just after it.
    await vi.waitFor(() => expect(handle!.stats()).toMatchObject({ spansExported: 0, spansDropped: 25, spansQueued: 0 }), {
      timeout: 5000,
    });
  });

  it('registers the session propagator and makes signing keys available to hops', () => {
    handle = init({ exporters: [new InMemorySpanExporter()], signingKey: 'a-signing-key-of-enough-length' });
    expect(propagation.fields()).toEqual(expect.arrayContaining(['traceparent', 'baggage']));
    expect(initKeyring()?.activeKeyId).toBe('k0');
  });

  it('rejects a short signing key with a clear error that names where the key came from', () => {
    expect(() => init({ signingKey: 'short' })).toThrow(/init signingKey must be at least 16 bytes/);
    process.env.AGENTOPS_SIGNING_KEY = 'short';
    try {
      expect(() => init()).toThrow(/AGENTOPS_SIGNING_KEY must be at least 16 bytes/);
    } finally {
      delete process.env.AGENTOPS_SIGNING_KEY;
    }
  });

  it('rejects a misspelled option name with the one it likely meant', () => {
    expect(() => init({ servicename: 'x' } as never)).toThrow(/init options has no option "servicename" \(did you mean "serviceName"\?\)/);
  });

  it('returns the first handle when called twice', () => {
    handle = init({ exporters: [new InMemorySpanExporter()] });
    expect(init()).toBe(handle);
  });

  it("beside the application's provider: creates none, installs the propagator, never shuts it down", async () => {
    const exporter = new InMemorySpanExporter();
    const own = new NodeTracerProvider({ spanProcessors: [new SessionSpanProcessor(), new SimpleSpanProcessor(exporter)] });
    own.register();
    const warnings: string[] = [];
    const { diag, DiagLogLevel } = await import('@opentelemetry/api');
    diag.setLogger(
      { error: () => {}, warn: (...args: unknown[]) => warnings.push(args.join(' ')), info: () => {}, debug: () => {}, verbose: () => {} },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    handle = init({ serviceName: 'x' });
    expect(handle.ownsProvider).toBe(false);
    expect(handle.tracerProvider).toBe(own);
    expect(warnings.some((w) => w.includes('SessionSpanProcessor'))).toBe(false);
    const session = startSession();
    withSession(session, () => withAgent('a', () => undefined));
    session.end();
    await handle.shutdown();
    handle = undefined;
    // Still usable after our shutdown: it was not ours to stop.
    trace.getTracer('t').startSpan('after').end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['a.agent', 'session', 'after']);
    expect(exporter.getFinishedSpans()[0]!.attributes['session.id']).toBe(session.id);
    diag.disable();
    await own.shutdown();
  });

  it("warns when the application's provider lacks SessionSpanProcessor", async () => {
    const own = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
    own.register();
    const warnings: string[] = [];
    const { diag, DiagLogLevel } = await import('@opentelemetry/api');
    diag.setLogger(
      { error: () => {}, warn: (...args: unknown[]) => warnings.push(args.join(' ')), info: () => {}, debug: () => {}, verbose: () => {} },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    handle = init();
    expect(warnings.some((w) => w.includes('SessionSpanProcessor'))).toBe(true);
    diag.disable();
    await own.shutdown();
  });
});
