/**
 * THE REFERENCE for the BullMQ rows ("hand"): the producer's context injected with OTel's W3C
 * propagators into each job's data when it is added, and one CONSUMER span per job around the
 * processor (extract, span, the processor in its context), written by hand on the plain
 * OpenTelemetry API through the SDK's BatchSpanProcessor (bench/lib/tracing.ts sdkTracing).
 *
 * Later issues measure against this file and MUST NOT edit it.
 */
import { context, defaultTextMapGetter, defaultTextMapSetter, SpanKind, trace } from '@opentelemetry/api';
import { addSessionAttributes, w3cPropagator } from './w3c.js';

const tracer = () => trace.getTracer('bench-reference');

/** Job data with the active context's headers beside the payload. */
export function referenceJobData<T extends object>(data: T): T & { otel: Record<string, string> } {
  const otel: Record<string, string> = {};
  w3cPropagator.inject(context.active(), otel, defaultTextMapSetter);
  return { ...data, otel };
}

/** Wraps a processor: each job runs in a CONSUMER span that continues the adder's context. */
export function referenceProcessor<J extends { id?: string | undefined; queueName: string; data: { otel?: Record<string, string> } }, R>(
  processor: (job: J) => Promise<R>,
) {
  return async (job: J): Promise<R> => {
    const extracted = w3cPropagator.extract(context.active(), job.data.otel ?? {}, defaultTextMapGetter);
    const attributes = addSessionAttributes(
      {
        'messaging.system': 'bullmq',
        'messaging.destination.name': job.queueName,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.message.id': job.id ?? '',
      },
      extracted,
    );
    const span = tracer().startSpan(`process ${job.queueName}`, { kind: SpanKind.CONSUMER, attributes }, extracted);
    try {
      return await context.with(trace.setSpan(extracted, span), () => processor(job));
    } finally {
      span.end();
    }
  };
}
