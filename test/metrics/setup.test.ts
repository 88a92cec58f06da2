// init's metrics setup as OpenTelemetry users expect it: OTEL_METRICS_EXPORTER and its default,
// the OTLP endpoint, protocol and temporality variables, AgentOps' endpoint and token, the
// Prometheus endpoint on loopback, readers of the application's own, beside an application's
// MeterProvider, one deadline for flush and shutdown, and configuration errors that name the
// option. Every exporter is the real one; the OTLP receiver decodes protobuf and JSON, the
// Prometheus endpoint is scraped and parsed by the Prometheus project's parser.

import { context, diag, DiagLogLevel, metrics, propagation, trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { init, type InitHandle } from '../../src/index.js';
import { instruments } from '../../src/metrics/instruments.js';
import { otlpMetricsReceiver, type MetricsReceiver, type ReceivedPoint } from './otlp-metrics-receiver.js';
import { family, promparse, scrape, series, waitForEndpoint } from './prometheus.js';
import { PRICED_COST, PRICES, workload } from './workload.js';

const VARIABLES = [
  'OTEL_METRICS_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
  'OTEL_EXPORTER_PROMETHEUS_HOST',
  'OTEL_EXPORTER_PROMETHEUS_PORT',
  'OTEL_METRIC_EXPORT_INTERVAL',
  'AGENTOPS_API_KEY',
  'AGENTOPS_API_ENDPOINT',
  'AGENTOPS_EXPORTER_ENDPOINT',
];
const saved: Record<string, string | undefined> = {};
let handle: InitHandle | undefined;
let receiver: MetricsReceiver | undefined;
const warnings: string[] = [];

beforeAll(() => {
  promparse(); // built once, before any test counts its time
});

beforeEach(() => {
  for (const name of VARIABLES) {
    saved[name] = process.env[name];
    delete process.env[name];
  }
  warnings.length = 0;
  diag.setLogger(
    {
      error: (...args: unknown[]) => void warnings.push(args.map(String).join(' ')),
      warn: (...args: unknown[]) => void warnings.push(args.map(String).join(' ')),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
});

afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  await receiver?.close();
  receiver = undefined;
  for (const name of VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  metrics.disable();
  trace.disable();
  context.disable();
  propagation.disable();
  diag.disable();
  vi.restoreAllMocks();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function accepts(host: string, port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The points of `metric` whose attributes include `attributes`. */
function points(all: ReceivedPoint[], metric: string, attributes: Record<string, unknown> = {}): ReceivedPoint[] {
  return all.filter((p) => p.metric === metric && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}

/** What the workload must measure, checked on OTLP points. */
function expectWorkload(all: ReceivedPoint[], sessionId: string): void {
  const tokens = (model: string, type: string) =>
    points(all, 'gen_ai.client.token.usage', { 'gen_ai.request.model': model, 'gen_ai.token.type': type }).map((p) => [p.count, p.sum]);
  expect(tokens('gpt-4o', 'input')).toEqual([[1, 1000]]);
  expect(tokens('gpt-4o', 'output')).toEqual([[1, 250]]);
  expect(tokens('local-llama', 'input')).toEqual([[1, 64]]);
  expect(tokens('local-llama', 'output')).toEqual([[1, 16]]);
  const usage = points(all, 'gen_ai.client.token.usage', { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.token.type': 'input' })[0]!;
  expect(usage.unit).toBe('{token}');
  expect(usage.attributes).toEqual({
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'gen_ai.token.type': 'input',
  });
  expect(usage.bounds).toEqual([1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]);
  const duration = points(all, 'gen_ai.client.operation.duration', { 'gen_ai.request.model': 'gpt-4o' });
  expect(duration.map((p) => [p.unit, p.count, p.bounds])).toEqual([
    ['s', 1, [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]],
  ]);
  expect(points(all, 'agentops.llm.cost').map((p) => [p.attributes['agentops.llm.pricing'], p.value])).toEqual([
    ['price_table', PRICED_COST],
  ]);
  expect(
    points(all, 'agentops.llm.calls')
      .map((p) => [p.attributes['gen_ai.request.model'], p.attributes['agentops.llm.pricing'], p.value])
      .sort(),
  ).toEqual([
    ['gpt-4o', 'price_table', 1],
    ['local-llama', 'unpriced', 1],
  ]);
  const tools = points(all, 'agentops.entity.duration', { 'agentops.span.kind': 'tool', 'agentops.entity.name': 'search' });
  expect(tools.map((p) => [p.attributes['agentops.outcome'], p.attributes['error.type'], p.count]).sort()).toEqual([
    ['error', 'ToolFailure', 1],
    ['success', undefined, 1],
  ]);
  expect(
    points(all, 'agentops.entity.duration', { 'agentops.span.kind': 'agent' }).map((p) => [p.attributes['agentops.entity.name'], p.count]),
  ).toEqual([['planner', 1]]);
  expect(points(all, 'agentops.session.duration').map((p) => [p.attributes, p.count])).toEqual([
    [{ 'agentops.session.end_state': 'Success', 'agentops.entity.name': 'research' }, 1],
  ]);
  for (const p of all) expect(Object.values(p.attributes)).not.toContain(sessionId);
}

describe('OTEL_METRICS_EXPORTER', () => {
  it('none sets nothing up: no provider, no endpoint, no export, no instrument, even with an endpoint configured', async () => {
    receiver = await otlpMetricsReceiver();
    const port = await freePort();
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = receiver.url;
    process.env.OTEL_METRICS_EXPORTER = 'none';
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = String(port);
    handle = init({ serviceName: 'none', metrics: { prices: PRICES } });
    expect(handle.meterProvider).toBeUndefined();
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
    await workload();
    await handle.forceFlush();
    expect(instruments()).toBeUndefined();
    expect(receiver.requests).toEqual([]);
    expect(await accepts('127.0.0.1', port)).toBe(false);
  });

  it('unset, without an endpoint or a key: none', async () => {
    handle = init({ serviceName: 'quiet' });
    expect(handle.meterProvider).toBeUndefined();
    expect(instruments()).toBeUndefined();
  });

  it('unset, with OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/HTTP protobuf to <endpoint>/v1/metrics, cumulative, flushed by forceFlush', async () => {
    receiver = await otlpMetricsReceiver();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.base;
    handle = init({ serviceName: 'otlp-default', metrics: { prices: PRICES } });
    expect(handle.ownsProvider).toBe(true);
    expect(handle.meterProvider).toBe(metrics.getMeterProvider());
    const sessionId = await workload();
    await handle.forceFlush();
    expect(receiver.requests.map((r) => r.contentType)).toEqual(['application/x-protobuf']);
    const all = receiver.points();
    expect(new Set(all.map((p) => p.scope))).toEqual(new Set(['agentops-propagation']));
    expect(all[0]!.resource['service.name']).toBe('otlp-default');
    expect(new Set(points(all, 'agentops.llm.cost').map((p) => p.temporality))).toEqual(new Set([2]));
    expectWorkload(all, sessionId);
  });

  it('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, _PROTOCOL=http/json and _TEMPORALITY_PREFERENCE=delta', async () => {
    receiver = await otlpMetricsReceiver();
    process.env.OTEL_METRICS_EXPORTER = 'otlp';
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = receiver.url;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
    process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = 'http/json';
    process.env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = 'DELTA';
    handle = init({ serviceName: 'otlp-json', metrics: { prices: PRICES } });
    const sessionId = await workload();
    await handle.forceFlush();
    expect(receiver.requests.map((r) => r.contentType)).toEqual(['application/json']);
    const all = receiver.points();
    expect(new Set(all.map((p) => p.temporality))).toEqual(new Set([1]));
    expectWorkload(all, sessionId);
    // Delta: a second flush with nothing new recorded sends nothing more for the workload.
    await handle.forceFlush();
    expect(receiver.points().filter((p) => p.metric === 'agentops.llm.cost')).toHaveLength(1);
  });

  it("an AgentOps key: the token exchanged once and sent on the metric exports, to the endpoint beside AgentOps' traces endpoint", async () => {
    receiver = await otlpMetricsReceiver();
    process.env.AGENTOPS_API_KEY = 'key-metrics';
    process.env.AGENTOPS_API_ENDPOINT = receiver.base;
    process.env.AGENTOPS_EXPORTER_ENDPOINT = `${receiver.base}/v1/traces`;
    handle = init({ serviceName: 'agentops', metrics: { prices: PRICES } });
    const sessionId = await workload();
    await handle.forceFlush();
    expect(receiver.tokenRequests).toEqual([{ api_key: 'key-metrics' }]);
    expect(receiver.requests.map((r) => r.headers.authorization)).toEqual(['Bearer tok-1']);
    expectWorkload(receiver.points(), sessionId);
  });

  it('prometheus: served on loopback at OTEL_EXPORTER_PROMETHEUS_PORT, parsed by the Prometheus parser, closed at shutdown', async () => {
    const port = await freePort();
    process.env.OTEL_METRICS_EXPORTER = 'prometheus';
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = String(port);
    handle = init({ serviceName: 'scraped', metrics: { prices: PRICES } });
    const url = `http://127.0.0.1:${port}/metrics`;
    await waitForEndpoint(url);
    const sessionId = await workload();
    const { text, families } = await scrape(url);
    expect(text).not.toContain(sessionId);
    const tokens = family(families, 'gen_ai_client_token_usage');
    expect(tokens.type).toBe('HISTOGRAM');
    expect(series(tokens, { gen_ai_request_model: 'gpt-4o', gen_ai_token_type: 'input' }).map((s) => [s.count, s.sum])).toEqual([
      [1, 1000],
    ]);
    expect(series(tokens, { gen_ai_request_model: 'local-llama', gen_ai_token_type: 'output' }).map((s) => [s.count, s.sum])).toEqual([
      [1, 16],
    ]);
    const cost = family(families, 'agentops_llm_cost_total');
    expect(cost.type).toBe('COUNTER');
    expect(cost.samples.map((s) => [s.labels.agentops_llm_pricing, s.value])).toEqual([['price_table', PRICED_COST]]);
    const tools = family(families, 'agentops_entity_duration');
    expect(
      series(tools, { agentops_entity_name: 'search' })
        .map((s) => [s.labels.agentops_outcome, s.count])
        .sort(),
    ).toEqual([
      ['error', 1],
      ['success', 1],
    ]);
    // Loopback only: not reachable on this machine's other addresses.
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    if (external !== undefined) expect(await accepts(external.address, port)).toBe(false);
    await handle.shutdown();
    handle = undefined;
    expect(await accepts('127.0.0.1', port)).toBe(false);
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
  });

  it('console: measurements printed at forceFlush', async () => {
    process.env.OTEL_METRICS_EXPORTER = 'console';
    const printed: unknown[] = [];
    vi.spyOn(console, 'dir').mockImplementation((value) => void printed.push(value));
    handle = init({ serviceName: 'console' });
    await workload();
    await handle.forceFlush();
    expect(JSON.stringify(printed)).toContain('gen_ai.client.token.usage');
  });
});

describe('readers, and an application with its own MeterProvider', () => {
  it("metrics.readers: the application's reader gets the measurements beside the exporters", async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    handle = init({ serviceName: 'reader', metrics: { readers: [reader], prices: PRICES } });
    await workload();
    await handle.forceFlush();
    const names = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.descriptor.name)));
    expect(new Set(names)).toEqual(
      new Set([
        'gen_ai.client.token.usage',
        'gen_ai.client.operation.duration',
        'agentops.llm.cost',
        'agentops.llm.calls',
        'agentops.llm.tokens',
        'agentops.entity.duration',
        'agentops.session.duration',
      ]),
    );
  });

  it('beside an application MeterProvider: creates none, warns that its exporters are not set up, records into the application one', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const appProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })] });
    metrics.setGlobalMeterProvider(appProvider);
    const port = await freePort();
    process.env.OTEL_METRICS_EXPORTER = 'prometheus';
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = String(port);
    handle = init({ serviceName: 'beside', metrics: { prices: PRICES } });
    expect(handle.meterProvider).toBe(appProvider);
    expect(warnings.some((w) => w.includes('a MeterProvider is already registered') && w.includes('prometheus'))).toBe(true);
    await workload();
    await handle.forceFlush();
    expect(await accepts('127.0.0.1', port)).toBe(false);
    const cost = exporter
      .getMetrics()
      .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
      .filter((m) => m.descriptor.name === 'agentops.llm.cost')
      .flatMap((m) => m.dataPoints.map((d) => d.value));
    expect(cost).toEqual([PRICED_COST]);
    await handle.shutdown();
    handle = undefined;
    // Not init's to shut down or unregister.
    expect(metrics.getMeterProvider()).toBe(appProvider);
    await appProvider.shutdown();
  });

  it('a collector that refuses connections: forceFlush and shutdown come back within the one deadline, never rejecting', async () => {
    receiver = await otlpMetricsReceiver();
    const dead = receiver.url;
    await receiver.close();
    receiver = undefined;
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = dead;
    handle = init({ serviceName: 'dead', exportQueue: { exportTimeoutMillis: 1000 } });
    await workload();
    await expect(handle.forceFlush()).resolves.toBeUndefined();
    await expect(handle.shutdown()).resolves.toBeUndefined();
    handle = undefined;
  });
});

describe('configuration errors throw at init, naming the option or the variable', () => {
  it.each([
    [{ metrics: { exporters: ['prometeus'] } }, {}, /init metrics\.exporters names an unknown exporter "prometeus"/],
    [{}, { OTEL_METRICS_EXPORTER: 'otlp,zipkin' }, /OTEL_METRICS_EXPORTER names an unknown exporter "zipkin"/],
    [{ metrics: { exporters: ['otlp'] } }, {}, /init metrics\.exporters names 'otlp' but no endpoint is configured/],
    [{ metrics: { prise: {} } }, {}, /init metrics has no option "prise" \(did you mean "prices"\?\)/],
    [
      { metrics: { prices: { 'gpt-4o': { input: -1, output: 1 } } } },
      {},
      /init metrics\.prices\["gpt-4o"\]\.input must be a finite number >= 0/,
    ],
    [{ metrics: { prices: { 'gpt-4o': { input: 1, outptu: 1 } } } }, {}, /has no option "outptu"/],
    [{ metrics: { temporality: 'sometimes' } }, {}, /init metrics\.temporality must be/],
    [{}, { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' }, /OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE must be/],
    [{}, { OTEL_EXPORTER_PROMETHEUS_PORT: 'ninety' }, /OTEL_EXPORTER_PROMETHEUS_PORT must be a positive integer/],
    [{ metrics: { prometheusPort: 70000 } }, {}, /init metrics\.prometheusPort must be a port/],
    [{}, { OTEL_METRIC_EXPORT_INTERVAL: '0' }, /OTEL_METRIC_EXPORT_INTERVAL must be a positive integer/],
    [{ metrics: { cardinalityLimit: 0 } }, {}, /init metrics\.cardinalityLimit must be a positive integer/],
    [{ metrics: { readers: [{}] } }, {}, /init metrics\.readers\[0\] must be a MetricReader/],
    [
      {},
      { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:1/v1/metrics', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' },
      /OTEL_EXPORTER_OTLP_METRICS_PROTOCOL must be .*exporter-metrics-otlp-grpc/,
    ],
  ])('%j with %j', (options, env, message) => {
    Object.assign(process.env, env);
    expect(() => init(options as never)).toThrow(message);
    // Nothing was registered on the way.
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
  });
});
