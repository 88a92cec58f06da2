import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SessionSpanProcessor } from '../../src/processor.js';
import { sessionPropagator } from '../../src/propagation/index.js';

/** A registered SDK exporting to memory, as a test harness (not the library's init). */
export interface TestTracing {
  exporter: InMemorySpanExporter;
  provider: NodeTracerProvider;
  spans(): ReadableSpan[];
  byName(name: string): ReadableSpan[];
  one(name: string): ReadableSpan;
  reset(): void;
  shutdown(): Promise<void>;
}

export function setupTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SessionSpanProcessor(), new SimpleSpanProcessor(exporter)] });
  trace.disable();
  context.disable();
  propagation.disable();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(sessionPropagator());
  const spans = () => exporter.getFinishedSpans();
  return {
    exporter,
    provider,
    spans,
    byName: (name) => spans().filter((s) => s.name === name),
    one(name) {
      const found = spans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span named ${name}, found ${found.length}: ${spans().map((s) => s.name).join(', ')}`);
      return found[0]!;
    },
    reset: () => exporter.reset(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** The parent span id of a finished span (SDK 2.x keeps it in parentSpanContext). */
export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
