import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { SessionSpanProcessor } from '../../src/session/processor.js';
import { sessionPropagator } from '../../src/propagator/session-propagator.js';

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

/** Replaces the OTel globals with `provider`, AsyncLocalStorage and the library's propagator. */
export function registerGlobalTracing(provider: NodeTracerProvider): void {
  disableGlobalTracing();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(sessionPropagator());
}

/** Unregisters the OTel globals (tracer provider, context manager, propagator). */
export function disableGlobalTracing(): void {
  trace.disable();
  context.disable();
  propagation.disable();
}

export function setupTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SessionSpanProcessor(), new SimpleSpanProcessor(exporter)] });
  registerGlobalTracing(provider);
  const spans = () => exporter.getFinishedSpans();
  return {
    exporter,
    provider,
    spans,
    byName: (name) => spans().filter((s) => s.name === name),
    one(name) {
      const found = spans().filter((s) => s.name === name);
      if (found.length !== 1)
        throw new Error(
          `expected one span named ${name}, found ${found.length}: ${spans()
            .map((s) => s.name)
            .join(', ')}`,
        );
      return found[0]!;
    },
    reset: () => exporter.reset(),
    async shutdown() {
      await provider.shutdown();
      disableGlobalTracing();
    },
  };
}

/** Options of {@link useTracing}. */
export interface UseTracingOptions {
  /** Runs after each test, before its spans are cleared (closing queues and workers). */
  afterEach?: () => unknown;
  /** Clear the finished spans after each test (default true). */
  resetEach?: boolean;
}

/**
 * A test file's tracing: set up before its tests, spans cleared after each one, shut down after
 * all. The returned object is usable inside tests and hooks.
 */
export function useTracing(options: UseTracingOptions = {}): TestTracing {
  let current: TestTracing | undefined;
  const get = (): TestTracing => {
    if (current === undefined) throw new Error('useTracing: tracing is only set up while the tests run');
    return current;
  };
  beforeAll(() => {
    current = setupTracing();
  });
  afterEach(async () => {
    await options.afterEach?.();
    if (options.resetEach !== false) get().reset();
  });
  afterAll(() => get().shutdown());
  return {
    get exporter() {
      return get().exporter;
    },
    get provider() {
      return get().provider;
    },
    spans: () => get().spans(),
    byName: (name) => get().byName(name),
    one: (name) => get().one(name),
    reset: () => get().reset(),
    shutdown: () => get().shutdown(),
  };
}

/** The parent span id of a finished span (SDK 2.x keeps it in parentSpanContext). */
export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
