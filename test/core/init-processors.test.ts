// agentOpsSpanProcessors for applications with their own provider, and the warning when the
// global propagator is not the session one once spans flow.

import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentOpsSpanProcessors,
  CountingExportQueue,
  SessionSpanProcessor,
  sessionPropagator,
  startSession,
  withAgent,
  withSession,
} from '../../src/index.js';

const warnings: string[] = [];
function captureWarnings(): void {
  warnings.length = 0;
  diag.setLogger(
    { error: () => {}, warn: (...a: unknown[]) => warnings.push(a.join(' ')), info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

afterEach(() => {
  trace.disable();
  context.disable();
  propagation.disable();
  diag.disable();
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
});

describe('agentOpsSpanProcessors', () => {
  it('without a key or AgentOps endpoint: session stamping only, even with OTEL_EXPORTER_OTLP_ENDPOINT set (that one is yours)', async () => {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://127.0.0.1:1';
    const processors = agentOpsSpanProcessors();
    expect(processors.some((p) => p instanceof SessionSpanProcessor)).toBe(true);
    expect(processors.some((p) => p instanceof CountingExportQueue)).toBe(false);
    await Promise.all(processors.map((p) => p.shutdown()));
  });

  it('with an endpoint: the session processor and an export queue; bad options throw naming them', async () => {
    const processors = agentOpsSpanProcessors({ otlpEndpoint: 'http://127.0.0.1:1/v1/traces', exportQueue: { exportTimeoutMillis: 100 } });
    expect(processors.filter((p) => p instanceof CountingExportQueue)).toHaveLength(1);
    await Promise.all(processors.map((p) => p.shutdown()));
    expect(() => agentOpsSpanProcessors({ exportQueue: { maxConcurrentExports: -1 } })).toThrow(
      /agentOpsSpanProcessors exportQueue.maxConcurrentExports/,
    );
    expect(() => agentOpsSpanProcessors({ otlpProtocol: 'grpc' as never })).toThrow(TypeError);
  });

  it('stamps session.id in a provider of your own, and warns once when the global propagator is not ours', () => {
    captureWarnings();
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({ spanProcessors: [...agentOpsSpanProcessors(), new SimpleSpanProcessor(exporter)] });
    provider.register({
      propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    });
    const session = startSession();
    withSession(session, () => withAgent('a', () => undefined));
    session.end();
    expect(exporter.getFinishedSpans().every((s) => s.attributes['session.id'] === session.id)).toBe(true);
    expect(warnings.filter((w) => w.includes("global propagator is not agentops-propagation's"))).toHaveLength(1);
  });

  it('no warning with sessionPropagator() as the global propagator', () => {
    captureWarnings();
    const provider = new NodeTracerProvider({ spanProcessors: agentOpsSpanProcessors() });
    provider.register({ propagator: sessionPropagator() });
    startSession().end();
    expect(warnings.filter((w) => w.includes('global propagator'))).toEqual([]);
  });
});
