/**
 * An unsampled caller under init's provider: the inbound hop makes the non-recording span the SDK
 * would make (its sampler follows an unsampled remote parent) without asking the SDK, and skips
 * the attributes. These tests hold the hop to what the SDK itself produces, and check that the
 * shortcut is off whenever the sampler may decide otherwise.
 */
import { context, defaultTextMapGetter, metrics, propagation, trace, TraceFlags, type Attributes } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { createRequire } from 'node:module';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getSessionId, init, type InitHandle } from '../../src/index.js';
import { startInboundHop, startOutboundHop } from '../../src/engine.js';
import { sessionMiddleware } from '../../adapters/express/index.js';

const SESSION = '5a1e5e55000000000000000000000abc';
const CALLER_SPAN = '00f067aa0ba902b7';
const ROOT_SPAN = '1111222233334444';

/** What a caller in an unsampled session sends (flags 00, or 02: random, not sampled). */
function unsampledCaller(flags: '00' | '02'): Record<string, string> {
  return {
    traceparent: `00-${SESSION}-${CALLER_SPAN}-${flags}`,
    tracestate: 'vendor=kept',
    baggage: `agentops.session.id=${SESSION},agentops.session.root=${ROOT_SPAN},agentops.session.flags=${flags}`,
  };
}

let handle: InitHandle | undefined;
const savedSampler = process.env.OTEL_TRACES_SAMPLER;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  if (savedSampler === undefined) delete process.env.OTEL_TRACES_SAMPLER;
  else process.env.OTEL_TRACES_SAMPLER = savedSampler;
  trace.disable();
  context.disable();
  propagation.disable();
});

/** What one inbound hop for `carrier` produced, and what an outbound hop inside it wrote. */
function hopFor(carrier: Record<string, string>) {
  const hop = startInboundHop({ carrier, getter: defaultTextMapGetter, spanName: 'in', trust: 'trust', signing: null });
  const recording = hop.span.isRecording();
  const inside = context.with(hop.context, () => {
    // No span of its own: the fields carry the inbound hop's span id.
    const out = startOutboundHop({ spanName: 'out', signing: null, startSpan: false });
    const fields = out.fields();
    out.end();
    return { fields, sessionId: getSessionId() };
  });
  hop.end();
  const sc = hop.span.spanContext();
  return { recording, traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags, traceState: sc.traceState?.serialize(), ...inside };
}

/** A reader collected on demand. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** A sampler that delegates to the SDK's default and remembers the attributes it was shown. */
class WatchingSampler implements Sampler {
  readonly seen: Attributes[] = [];
  private readonly inner = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  shouldSample(...args: Parameters<Sampler['shouldSample']>): SamplingResult {
    this.seen.push(args[4]);
    return this.inner.shouldSample(...args);
  }
  toString(): string {
    return 'WatchingSampler';
  }
}

describe('an unsampled caller under init', () => {
  for (const flags of ['00', '02'] as const) {
    it(`flags ${flags}: the same non-recording span, session and outbound fields as the SDK's own sampler gives`, async () => {
      const exporter = new InMemorySpanExporter();
      handle = init({ serviceName: 'unsampled', exporters: [exporter] });
      const ours = hopFor(unsampledCaller(flags));
      await handle.forceFlush();
      expect(exporter.getFinishedSpans()).toHaveLength(0);
      await handle.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();

      // The same default sampler given as an option: init cannot know what it decides, so the SDK starts the span.
      const sampler = new WatchingSampler();
      handle = init({ serviceName: 'unsampled', exporters: [new InMemorySpanExporter()], sampler });
      const sdk = hopFor(unsampledCaller(flags));
      expect(sampler.seen.length).toBeGreaterThan(0);

      for (const hop of [ours, sdk]) {
        expect(hop.recording).toBe(false);
        expect(hop.traceId).toBe(SESSION);
        expect(hop.flags).toBe(TraceFlags.NONE);
        expect(hop.spanId).toMatch(/^[0-9a-f]{16}$/);
        expect(hop.spanId).not.toBe(CALLER_SPAN);
        expect(hop.spanId).not.toBe('0000000000000000');
        expect(hop.traceState).toBe('vendor=kept');
        expect(hop.sessionId).toBe(SESSION);
        expect(hop.fields.baggage).toContain(`agentops.session.id=${SESSION}`);
      }
      // Outbound, the caller's trace and flags (random bit kept) under the hop's own span id.
      expect(ours.fields.traceparent).toBe(`00-${SESSION}-${ours.spanId}-${flags}`);
      expect(sdk.fields.traceparent).toBe(`00-${SESSION}-${sdk.spanId}-${flags}`);
    });
  }

  it('a sampler that records unsampled parents (option, or OTEL_TRACES_SAMPLER always_on / traceidratio) gets the span', async () => {
    const setups: [string, (exporter: InMemorySpanExporter) => InitHandle][] = [
      ['sampler option', (exporter) => init({ serviceName: 's', exporters: [exporter], sampler: new AlwaysOnSampler() })],
      ['always_on', (exporter) => ((process.env.OTEL_TRACES_SAMPLER = 'always_on'), init({ serviceName: 's', exporters: [exporter] }))],
      [
        'traceidratio',
        (exporter) => ((process.env.OTEL_TRACES_SAMPLER = 'traceidratio'), init({ serviceName: 's', exporters: [exporter] })),
      ],
    ];
    for (const [name, setup] of setups) {
      const exporter = new InMemorySpanExporter();
      handle = setup(exporter);
      const hop = hopFor(unsampledCaller('00'));
      await handle.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s) => s.name === 'in');
      await handle.shutdown();
      handle = undefined;
      delete process.env.OTEL_TRACES_SAMPLER;
      trace.disable();
      context.disable();
      propagation.disable();
      expect(hop.recording, name).toBe(true);
      expect(spans, name).toHaveLength(1);
      expect(spans[0]!.spanContext().traceId, name).toBe(SESSION);
    }
  });

  it('a sampled caller still shows the sampler the span attributes', async () => {
    const sampler = new WatchingSampler();
    handle = init({ serviceName: 's', exporters: [new InMemorySpanExporter()], sampler });
    startInboundHop({
      carrier: { traceparent: `00-${SESSION}-${CALLER_SPAN}-01` },
      getter: defaultTextMapGetter,
      spanName: 'in',
      trust: 'trust',
      signing: null,
      attributes: { 'http.request.method': 'GET' },
    }).end();
    expect(sampler.seen.some((a) => a['http.request.method'] === 'GET')).toBe(true);
  });
});

describe('an unsampled caller of an Express server under init', () => {
  async function serve(): Promise<{ server: Server; port: number }> {
    const app = express();
    app.use(sessionMiddleware());
    app.get('/hello', (_req, res) => {
      // What is left waiting on the response when the handler runs.
      res.json({ session: getSessionId() ?? null, finish: res.listenerCount('finish'), close: res.listenerCount('close') });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return { server, port: (server.address() as AddressInfo).port };
  }

  function get(port: number, headers: Record<string, string>): Promise<{ session: string | null; finish: number; close: number }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/hello', headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += String(c)));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('joins the session, records nothing, and leaves no end listeners on the response', async () => {
    const exporter = new InMemorySpanExporter();
    handle = init({ serviceName: 'unsampled-http', exporters: [exporter] });
    const { server, port } = await serve();
    try {
      const unsampled = await get(port, unsampledCaller('00'));
      const sampled = await get(port, { ...unsampledCaller('00'), traceparent: `00-${SESSION}-${CALLER_SPAN}-01` });
      await handle.forceFlush();
      expect(unsampled.session).toBe(SESSION);
      expect(sampled.session).toBe(SESSION);
      // The sampled request's span ends from one finish and one close listener; the unsampled one needs neither.
      expect(sampled.finish - unsampled.finish).toBe(1);
      expect(sampled.close - unsampled.close).toBe(1);
      const serverSpans = exporter.getFinishedSpans().filter((s) => s.name.startsWith('GET'));
      expect(serverSpans).toHaveLength(1);
      expect(serverSpans[0]!.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('beside instrumentation-http, its duration metric keeps the route for unsampled requests too', async () => {
    const reader = new CollectingReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    handle = init({ serviceName: 'unsampled-http', exporters: [new InMemorySpanExporter()] });
    const instrumentation = new HttpInstrumentation();
    const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
    const app = express();
    app.use(sessionMiddleware());
    app.get('/items/:id', (_req, res) => void res.send('ok'));
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      for (const flags of ['00', '01']) {
        const res = await fetch(`http://127.0.0.1:${port}/items/${flags}`, {
          headers: { ...unsampledCaller('00'), traceparent: `00-${SESSION}-${CALLER_SPAN}-${flags}` },
        });
        await res.text();
      }
      const points: { route: unknown; count: number }[] = [];
      // instrumentation-http records when the server's response ends, which the client may see first.
      for (let tries = 0; tries < 100; tries++) {
        points.length = 0;
        const { resourceMetrics } = await reader.collect();
        for (const scope of resourceMetrics.scopeMetrics)
          for (const metric of scope.metrics)
            if (metric.descriptor.name === 'http.server.request.duration')
              for (const point of metric.dataPoints)
                points.push({ route: point.attributes['http.route'], count: (point.value as { count: number }).count });
        if (points.reduce((n, p) => n + p.count, 0) >= 2) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(points).toEqual([{ route: '/items/:id', count: 2 }]);
    } finally {
      instrumentation.disable();
      metrics.disable();
      await new Promise((r) => server.close(r));
    }
  });
});
