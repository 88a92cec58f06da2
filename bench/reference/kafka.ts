/**
 * THE REFERENCE for the Kafka rows ("hand"): one span per send (PRODUCER, the context injected
 * into every message's headers with OTel's W3C propagators) and one CONSUMER span per message
 * (extract, span, the handler in its context), written by hand on the plain OpenTelemetry API,
 * through the SDK's BatchSpanProcessor (bench/lib/tracing.ts sdkTracing). eachBatch: the same
 * per-message span around each message's work (what withMessageContext does for us).
 *
 * Later issues measure against this file and MUST NOT edit it.
 */
import { context, defaultTextMapSetter, SpanKind, trace, type Attributes, type TextMapGetter } from '@opentelemetry/api';
import { addSessionAttributes, w3cPropagator } from './w3c.js';

const tracer = () => trace.getTracer('bench-reference');

type Headers = Record<string, string | Buffer | (string | Buffer)[] | undefined>;
interface Message {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Headers;
}

/** kafkajs delivers header values as Buffers. */
const bufferGetter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.map(String) : String(value);
  },
};

/** `send` with one PRODUCER span, its context injected into a copy of each message's headers. */
export async function referenceSend<T>(
  send: (record: { topic: string; messages: Message[] }) => Promise<T>,
  record: { topic: string; messages: Message[] },
): Promise<T> {
  const attributes: Attributes = {
    'messaging.system': 'kafka',
    'messaging.destination.name': record.topic,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    'messaging.batch.message_count': record.messages.length,
  };
  const span = tracer().startSpan(`send ${record.topic}`, { kind: SpanKind.PRODUCER, attributes });
  const ctx = trace.setSpan(context.active(), span);
  const messages = record.messages.map((message) => {
    const headers: Record<string, string> = {};
    w3cPropagator.inject(ctx, headers, defaultTextMapSetter);
    return { ...message, headers: { ...message.headers, ...headers } };
  });
  try {
    return await send({ ...record, messages });
  } finally {
    span.end();
  }
}

/** Runs `fn` for one consumed message inside its CONSUMER span. */
export function referenceMessage<T>(
  topic: string,
  partition: number,
  groupId: string,
  message: Message & { offset: string },
  fn: () => T,
): T {
  const extracted = w3cPropagator.extract(context.active(), message.headers ?? {}, bufferGetter);
  const attributes = addSessionAttributes(
    {
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.partition.id': String(partition),
      'messaging.kafka.offset': Number(message.offset),
      'messaging.consumer.group.name': groupId,
    },
    extracted,
  );
  const span = tracer().startSpan(`process ${topic}`, { kind: SpanKind.CONSUMER, attributes }, extracted);
  const ctx = trace.setSpan(extracted, span);
  try {
    const result = context.with(ctx, fn);
    if (result instanceof Promise) return result.finally(() => span.end()) as T;
    span.end();
    return result;
  } catch (err) {
    span.end();
    throw err;
  }
}
