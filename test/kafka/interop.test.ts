// Interop with the stock @opentelemetry/instrumentation-kafkajs. It patches kafkajs through
// require hooks, so kafkajs is loaded here with createRequire after the instrumentation is
// enabled; toggling it decides whether the next producer or consumer is stock-instrumented.
import { context, propagation, SpanKind } from '@opentelemetry/api';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type * as KafkaJs from 'kafkajs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { instrumentConsumer, instrumentProducer, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { sharedState } from '../../src/base/state.js';
import { parentSpanId, setupTracing, type TestTracing } from '../helpers/otel.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, withProducer } from './helpers.js';

const STOCK_SCOPE = '@opentelemetry/instrumentation-kafkajs';
const OUR_SCOPE = 'agentops-propagation';

let t: TestTracing;
let stock: KafkaJsInstrumentation;
let kafkajs: typeof KafkaJs;
let kafka: KafkaJs.Kafka;

beforeAll(() => {
  t = setupTracing();
  stock = new KafkaJsInstrumentation({ enabled: false });
  stock.setTracerProvider(t.provider);
  stock.enable();
  kafkajs = createRequire(import.meta.url)('kafkajs') as typeof KafkaJs;
  kafka = kafkaClient(kafkajs);
});
afterEach(() => {
  t.reset();
  stock.enable();
});
afterAll(async () => {
  stock.disable();
  await t.shutdown();
});

const scope = (s: ReadableSpan) => s.instrumentationScope.name;
const spansOf = (name: string, scopeName: string) => t.byName(name).filter((s) => scope(s) === scopeName);

/** Creates a producer or consumer with the stock instrumentation on or off. */
function made<T>(stockOn: boolean, create: () => T): T {
  if (stockOn) stock.enable();
  else stock.disable();
  try {
    return create();
  } finally {
    stock.enable();
  }
}

describe('interop with @opentelemetry/instrumentation-kafkajs', () => {
  it('the require hook applied: kafkajs producers and consumers are stock-instrumented while it is enabled', () => {
    const patched = made(true, () => kafka.producer());
    const plain = made(false, () => kafka.producer());
    expect((patched.send as { __wrapped?: boolean }).__wrapped).toBe(true);
    expect((plain.send as { __wrapped?: boolean }).__wrapped).toBeUndefined();
  });

  it('stock producer -> our consumer: one trace, the consumer span under the stock PRODUCER span', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = made(true, () => kafka.producer());
    const session = startSession();
    await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'x' }] })));
    session.end();
    const consumer = made(false, () => instrumentConsumer(kafka.consumer(fastConsumerConfig())));
    await consumeUntil(
      consumer,
      [topic],
      { eachMessage: async () => {} },
      'our process span',
      () => spansOf(`process ${topic}`, OUR_SCOPE).length === 1,
    );

    const send = spansOf(`send ${topic}`, STOCK_SCOPE);
    expect(send).toHaveLength(1);
    expect(send[0]!.spanContext().traceId).toBe(session.id);
    const processed = t.one(`process ${topic}`);
    expect(scope(processed)).toBe(OUR_SCOPE);
    expect(processed.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(processed)).toBe(send[0]!.spanContext().spanId);
  });

  it('stock producer with globalSessionBaggage -> our consumer: the session entry rides along too', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = made(true, () => kafka.producer());
    const session = startSession();
    sharedState().globalSessionBaggage = true;
    try {
      await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'x' }] })));
    } finally {
      sharedState().globalSessionBaggage = false;
    }
    session.end();
    const seen: (string | undefined)[] = [];
    const consumer = made(false, () => instrumentConsumer(kafka.consumer(fastConsumerConfig()), { shape: 'rejoin' }));
    await consumeUntil(
      consumer,
      [topic],
      { eachMessage: async () => void seen.push(getSessionId()) },
      'one message',
      () => seen.length === 1,
    );
    expect(seen).toEqual([session.id]);
    expect(parentSpanId(t.one(`process ${topic}`))).toBe(session.rootSpanId);
  });

  it('our producer -> stock consumer: one trace, the stock CONSUMER span under our PRODUCER span', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = made(false, () => instrumentProducer(kafka.producer()));
    const session = startSession();
    await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'x' }] })));
    session.end();
    const consumer = made(true, () => kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      { eachMessage: async () => {} },
      'the stock process span',
      () => spansOf(`process ${topic}`, STOCK_SCOPE).length === 1,
    );

    const send = t.one(`send ${topic}`);
    expect(scope(send)).toBe(OUR_SCOPE);
    const processed = spansOf(`process ${topic}`, STOCK_SCOPE)[0]!;
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(processed.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(processed)).toBe(send.spanContext().spanId);
  });

  it('both on the consumer: ours adopts the stock CONSUMER span (no second span) and binds the session', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = made(false, () => instrumentProducer(kafka.producer()));
    const session = startSession();
    await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'x' }] })));
    session.end();
    const seen: (string | undefined)[] = [];
    const consumer = made(true, () => instrumentConsumer(kafka.consumer(fastConsumerConfig())));
    await consumeUntil(
      consumer,
      [topic],
      { eachMessage: async () => void seen.push(getSessionId()) },
      'one message',
      () => seen.length === 1 && t.byName(`process ${topic}`).length === 1,
    );

    const processed = t.one(`process ${topic}`);
    expect(scope(processed)).toBe(STOCK_SCOPE);
    expect(processed.attributes['agentops.hop.shape']).toBe('adopted');
    expect(processed.attributes['session.id']).toBe(session.id);
    expect(parentSpanId(processed)).toBe(t.one(`send ${topic}`).spanContext().spanId);
    expect(seen).toEqual([session.id]);
  });

  it('both on the producer: the stock span nests under ours and the message still carries the session', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = made(true, () => instrumentProducer(kafka.producer()));
    const session = startSession();
    // With baggage of the application's own in the context, the stock inject writes a baggage header too.
    const tenant = () => {
      const current = propagation.getBaggage(context.active()) ?? propagation.createBaggage();
      return propagation.setBaggage(context.active(), current.setEntry('tenant', { value: 'acme' }));
    };
    await withProducer(producer, (p) =>
      withSession(session, () => context.with(tenant(), () => p.send({ topic, messages: [{ value: 'x' }] }))),
    );
    session.end();
    const seen: (string | undefined)[] = [];
    const baggage: string[] = [];
    const consumer = made(false, () => instrumentConsumer(kafka.consumer(fastConsumerConfig())));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachMessage: async ({ message }) => {
          baggage.push(String(message.headers?.baggage));
          seen.push(getSessionId());
        },
      },
      'one message',
      () => seen.length === 1,
    );

    const ours = spansOf(`send ${topic}`, OUR_SCOPE)[0]!;
    const theirs = spansOf(`send ${topic}`, STOCK_SCOPE)[0]!;
    expect(parentSpanId(theirs)).toBe(ours.spanContext().spanId);
    expect(seen).toEqual([session.id]);
    // The stock inject into the headers our hop built keeps our baggage, session entry included
    // (the permit is on those headers, not on the context kafkajs sends in).
    expect(baggage[0]).toContain(`agentops.session.id=${session.id}`);
    expect(baggage[0]).toContain('tenant=acme');
    expect(t.one(`process ${topic}`).spanContext().traceId).toBe(session.id);
  });

  it('both on an eachBatch consumer: withMessageContext still lands each message in its own session', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = made(false, () => instrumentProducer(kafka.producer()));
    const sessions = [startSession(), startSession()];
    await withProducer(producer, async (p) => {
      for (const [i, s] of sessions.entries()) await withSession(s, () => p.send({ topic, messages: [{ value: String(i) }] }));
    });
    for (const s of sessions) s.end();
    const seen: (string | undefined)[] = [];
    const consumer = made(true, () => instrumentConsumer(kafka.consumer(fastConsumerConfig())));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
          for (const m of batch.messages) withMessageContext(m, () => seen.push(getSessionId()));
        },
      },
      'two messages',
      () => seen.length === 2,
    );
    expect(seen).toEqual(sessions.map((s) => s.id));
    expect(spansOf('poll ' + topic, STOCK_SCOPE).length).toBeGreaterThanOrEqual(1);
  });
});
