import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterEach, describe, expect, it } from 'vitest';
import { tracer, TRACER_NAME } from '../../src/base/tracer.js';

function provider(): { exporter: InMemorySpanExporter; provider: NodeTracerProvider } {
  const exporter = new InMemorySpanExporter();
  return { exporter, provider: new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }) };
}

afterEach(() => {
  trace.disable();
  context.disable();
});

describe('the library tracer (kept between calls)', () => {
  it('follows the registered provider: none, then one registered later, then a replacement', () => {
    trace.disable();
    expect(tracer().startSpan('before').isRecording()).toBe(false);

    const a = provider();
    a.provider.register();
    tracer().startSpan('in-a').end();
    expect(a.exporter.getFinishedSpans().map((s) => [s.name, s.instrumentationScope.name])).toEqual([['in-a', TRACER_NAME]]);

    trace.disable();
    const b = provider();
    b.provider.register();
    tracer().startSpan('in-b').end();
    expect(b.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['in-b']);
    expect(a.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['in-a']);

    trace.disable();
    expect(tracer().startSpan('after').isRecording()).toBe(false);
  });

  it('hands out the same tracer while the provider stays', () => {
    const a = provider();
    a.provider.register();
    expect(tracer()).toBe(tracer());
  });
});
