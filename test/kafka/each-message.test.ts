import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { EachMessagePayload, Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { instrumentConsumer, instrumentProducer, withMessageContext } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, kafkaErrors, withProducer } from './helpers.js';

const t = useTracing();
let kafka: Kafka;
beforeAll(() => {
  kafka = kafkaClient();
});

const processSpans = (topic: string): ReadableSpan[] => t.byName(`process ${topic}`);

interface Seen {
  value: string;
  offset: string;
  sessionId: string | undefined;
  traceId: string | undefined;
  headers: Record<string, string>;
}

function record(seen: Seen[]) {
  return async ({ message }: EachMessagePayload) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = Array.isArray(v) ? v.map(String).join('|') : String(v);
    seen.push({
      value: String(message.value),
      offset: message.offset,
      sessionId: getSessionId(),
      traceId: trace.getSpanContext(context.active())?.traceId,
      headers,
    });
  };
}

describe('kafkajs eachMessage against a real broker', () => {
  it('producer -> consumer joins the session trace: PRODUCER span, CONSUMER child, semconv attributes', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer());
    const session = startSession({ name: 'planner' });
    await withProducer(producer, () =>
      withSession(session, () => producer.send({ topic, messages: [{ key: 'job-1', value: 'research this' }] })),
    );
    session.end();

    const seen: Seen[] = [];
    const groupId = fastConsumerConfig().groupId;
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig(groupId)), { groupId });
    await consumeUntil(consumer, [topic], { eachMessage: record(seen) }, 'the process span', () => processSpans(topic).length === 1);

    const send = t.one(`send ${topic}`);
    const processed = t.one(`process ${topic}`);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.spanContext().traceId).toBe(session.id);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.kafka.message.key': 'job-1',
      'messaging.destination.partition.id': '0',
      'messaging.kafka.offset': 0,
      'session.id': session.id,
    });
    expect(send.attributes['messaging.batch.message_count']).toBeUndefined();

    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(processed.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(processed)).toBe(send.spanContext().spanId);
    expect(processed.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': groupId,
      'messaging.destination.partition.id': '0',
      'messaging.kafka.offset': 0,
      'messaging.kafka.message.key': 'job-1',
      'session.id': session.id,
      'agentops.hop.shape': 'parent',
      'agentops.hop.trust': 'trust',
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.sessionId).toBe(session.id);
    expect(seen[0]!.traceId).toBe(session.id);
    expect(seen[0]!.headers.traceparent).toMatch(new RegExp(`^00-${session.id}-${send.spanContext().spanId}-03$`));
    expect(seen[0]!.headers.baggage).toContain(`agentops.session.id=${session.id},agentops.session.root=${session.rootSpanId}`);
  });

  it('reads the consumer group from the GROUP_JOIN event when none is given', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer());
    await withProducer(producer, (p) => p.send({ topic, messages: [{ value: 'x' }] }));
    const config = fastConsumerConfig();
    const consumer = instrumentConsumer(kafka.consumer(config));
    await consumeUntil(consumer, [topic], { eachMessage: async () => {} }, 'the process span', () => processSpans(topic).length === 1);
    expect(t.one(`process ${topic}`).attributes['messaging.consumer.group.name']).toBe(config.groupId);
  });

  it("per-topic shape 'rejoin': child of the session root, linked to the producer span", async () => {
    const [parentTopic, rejoinTopic] = (await createTopics(kafka, 2)) as [string, string];
    const producer = instrumentProducer(kafka.producer());
    const session = startSession();
    await withProducer(producer, (p) =>
      withSession(session, () =>
        p.sendBatch({
          topicMessages: [
            { topic: parentTopic, messages: [{ value: 'a' }] },
            { topic: rejoinTopic, messages: [{ value: 'b' }] },
          ],
        }),
      ),
    );
    session.end();
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), { topics: { [rejoinTopic]: { shape: 'rejoin' } } });
    await consumeUntil(
      consumer,
      [parentTopic, rejoinTopic],
      { eachMessage: async () => {} },
      'both process spans',
      () => processSpans(parentTopic).length + processSpans(rejoinTopic).length === 2,
    );

    const rejoined = t.one(`process ${rejoinTopic}`);
    expect(rejoined.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(rejoined)).toBe(session.rootSpanId);
    expect(rejoined.links.map((l) => l.context.spanId)).toEqual([t.one(`send ${rejoinTopic}`).spanContext().spanId]);
    expect(rejoined.attributes['agentops.hop.shape']).toBe('rejoin');
    expect(parentSpanId(t.one(`process ${parentTopic}`))).toBe(t.one(`send ${parentTopic}`).spanContext().spanId);
  });

  it("per-topic trust 'link' and 'ignore': a new trace, linked or not, no session", async () => {
    const [linkTopic, ignoreTopic] = (await createTopics(kafka, 2)) as [string, string];
    const producer = instrumentProducer(kafka.producer());
    const session = startSession();
    await withProducer(producer, (p) =>
      withSession(session, () =>
        p.sendBatch({
          topicMessages: [
            { topic: linkTopic, messages: [{ value: 'a' }] },
            { topic: ignoreTopic, messages: [{ value: 'b' }] },
          ],
        }),
      ),
    );
    session.end();
    const seen: Seen[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), {
      trust: 'ignore',
      topics: { [linkTopic]: { trust: 'link' } },
    });
    await consumeUntil(
      consumer,
      [linkTopic, ignoreTopic],
      { eachMessage: record(seen) },
      'both process spans',
      () => processSpans(linkTopic).length + processSpans(ignoreTopic).length === 2,
    );

    const linked = t.one(`process ${linkTopic}`);
    expect(linked.spanContext().traceId).not.toBe(session.id);
    expect(linked.parentSpanContext).toBeUndefined();
    expect(linked.links.map((l) => l.context.spanId)).toEqual([t.one(`send ${linkTopic}`).spanContext().spanId]);
    expect(linked.attributes['session.id']).toBeUndefined();
    const ignored = t.one(`process ${ignoreTopic}`);
    expect(ignored.parentSpanContext).toBeUndefined();
    expect(ignored.links).toHaveLength(0);
    expect(seen.map((s) => s.sessionId)).toEqual([undefined, undefined]);
  });

  it('never loses, duplicates or reorders: 60 messages arrive once each, in offset order, each in its own session', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer());
    const sessions = Array.from({ length: 6 }, (_, i) => startSession({ name: `s${i}` }));
    await withProducer(producer, async (p) => {
      for (let i = 0; i < sessions.length; i++) {
        const messages = Array.from({ length: 10 }, (_, j) => ({ value: String(i * 10 + j) }));
        await withSession(sessions[i]!, () => p.send({ topic, messages }));
      }
    });
    for (const s of sessions) s.end();
    const seen: Seen[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(consumer, [topic], { eachMessage: record(seen) }, '60 messages', () => processSpans(topic).length === 60);

    expect(seen.map((s) => s.value)).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    expect(seen.map((s) => s.offset)).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    seen.forEach((s, i) => expect(s.sessionId).toBe(sessions[Math.floor(i / 10)]!.id));
    const send = t.byName(`send ${topic}`);
    expect(send).toHaveLength(6);
    expect(send[0]!.attributes['messaging.batch.message_count']).toBe(10);
    expect(send[0]!.attributes['messaging.kafka.message.key']).toBeUndefined();
  });

  it('a handler error is recorded and rethrown unchanged; kafkajs redelivers the message, which then succeeds', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer());
    const session = startSession();
    await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'first' }, { value: 'second' }] })));
    session.end();

    const boom = new Error('transient failure');
    const deliveries: string[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachMessage: async ({ message }: EachMessagePayload) => {
          deliveries.push(`${String(message.value)}@${message.offset}`);
          if (deliveries.length === 1) throw boom;
        },
      },
      'three process spans',
      () => processSpans(topic).length === 3,
    );

    expect(deliveries).toEqual(['first@0', 'first@0', 'second@1']);
    const spans = processSpans(topic).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
    expect(spans[0]!.status.message).toBe('transient failure');
    expect(spans[0]!.events[0]!.name).toBe('exception');
    for (const span of spans) expect(span.spanContext().traceId).toBe(session.id);
    // kafkajs received our handler's error object itself.
    expect(kafkaErrors.some((entry) => (entry.log as { error?: unknown }).error === boom)).toBe(true);
  });

  it('withMessageContext inside eachMessage runs in the handler context without a second span', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer());
    const session = startSession();
    await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'x' }] })));
    session.end();
    const results: unknown[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachMessage: async ({ message }: EachMessagePayload) => {
          const outside = context.with(propagation.deleteBaggage(trace.deleteSpan(context.active())), () =>
            withMessageContext(message, () => getSessionId()),
          );
          results.push(
            outside,
            withMessageContext(message, () => 42),
          );
        },
      },
      'the process span',
      () => processSpans(topic).length === 1,
    );
    expect(results).toEqual([session.id, 42]);
  });
});
