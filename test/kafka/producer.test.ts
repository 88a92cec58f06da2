import { context, propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { EachMessagePayload, IHeaders, Kafka, Message } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { instrumentConsumer, instrumentProducer } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, uniqueName, withProducer } from './helpers.js';

const t = useTracing();
let kafka: Kafka;
beforeAll(() => {
  kafka = kafkaClient();
});

interface Received {
  topic: string;
  value: string;
  headers: Record<string, string | string[]>;
  sessionId: string | undefined;
  tenant: string | undefined;
  parentSpanId: string | undefined;
}

function text(v: unknown): string | string[] {
  return Array.isArray(v) ? v.map(String) : String(v);
}

/** Consumes `count` messages from `topics` with an instrumented consumer and returns what the handler saw. */
async function receive(topics: string[], count: number): Promise<Received[]> {
  const received: Received[] = [];
  const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
  await consumeUntil(
    consumer,
    topics,
    {
      eachMessage: async ({ topic, message }: EachMessagePayload) => {
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = text(v);
        received.push({
          topic,
          value: String(message.value),
          headers,
          sessionId: getSessionId(),
          tenant: propagation.getBaggage(context.active())?.getEntry('tenant')?.value,
          parentSpanId: undefined,
        });
      },
    },
    `${count} messages`,
    () => topics.reduce((n, topic) => n + t.byName(`process ${topic}`).length, 0) === count,
  );
  return received;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

describe('kafkajs producer against a real broker', () => {
  it('never mutates the caller: deep-frozen record, messages and one frozen headers object shared by all messages', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const shared: IHeaders = { 'x-tenant': 'acme', 'x-binary': Buffer.from([1, 2, 3]) };
    const messages: Message[] = [
      { key: 'a', value: '1', headers: shared },
      { key: 'b', value: '2', headers: shared },
      { key: 'c', value: '3' },
    ];
    const record = deepFreeze({ topic, messages });
    const before = JSON.stringify(record);
    const producer = instrumentProducer(kafka.producer());
    const session = startSession();
    const result = await withProducer(producer, (p) => withSession(session, () => p.send(record)));
    session.end();

    expect(JSON.stringify(record)).toBe(before);
    expect(Object.keys(shared)).toEqual(['x-tenant', 'x-binary']);
    expect(messages[2]!.headers).toBeUndefined();
    expect(result).toEqual([expect.objectContaining({ topicName: topic, partition: 0, errorCode: 0, baseOffset: '0' })]);

    const received = await receive([topic], 3);
    expect(received.map((r) => r.value)).toEqual(['1', '2', '3']);
    for (const r of received) {
      expect(r.sessionId).toBe(session.id);
      expect(r.headers.traceparent).toContain(session.id);
    }
    expect(received[0]!.headers['x-tenant']).toBe('acme');
    expect(received[1]!.headers['x-binary']).toBe(Buffer.from([1, 2, 3]).toString());
    const send = t.one(`send ${topic}`);
    expect(send.attributes['messaging.batch.message_count']).toBe(3);
    expect(send.attributes['messaging.destination.partition.id']).toBe('0');
    expect(send.attributes['messaging.kafka.offset']).toBeUndefined();
  });

  it('sendBatch over several topics: one PRODUCER span per topic, frozen input untouched, each consumer span under its topic span', async () => {
    const [a, b] = (await createTopics(kafka, 2)) as [string, string];
    const batch = deepFreeze({
      topicMessages: [
        { topic: a, messages: [{ value: 'a1' }, { value: 'a2' }] },
        { topic: b, messages: [{ value: 'b1', headers: { 'x-k': 'v' } }] },
      ],
    });
    const before = JSON.stringify(batch);
    const producer = instrumentProducer(kafka.producer());
    const session = startSession();
    await withProducer(producer, (p) => withSession(session, () => p.sendBatch(batch)));
    session.end();
    expect(JSON.stringify(batch)).toBe(before);

    await receive([a, b], 3);
    const sendA = t.one(`send ${a}`);
    const sendB = t.one(`send ${b}`);
    expect(sendA.kind).toBe(SpanKind.PRODUCER);
    expect(sendA.attributes['messaging.batch.message_count']).toBe(2);
    expect(sendB.attributes['messaging.batch.message_count']).toBeUndefined();
    expect(sendB.attributes['messaging.destination.name']).toBe(b);
    expect(sendB.attributes['messaging.kafka.offset']).toBe(0);
    for (const span of t.byName(`process ${a}`)) expect(parentSpanId(span)).toBe(sendA.spanContext().spanId);
    expect(parentSpanId(t.one(`process ${b}`))).toBe(sendB.spanContext().spanId);
  });

  it('spanPerMessage: one PRODUCER span per message, each consumer span under its own', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer(), { spanPerMessage: true });
    const session = startSession();
    await withProducer(producer, (p) =>
      withSession(session, () =>
        p.send({
          topic,
          messages: [
            { key: 'k0', value: '0' },
            { key: 'k1', value: '1' },
            { key: 'k2', value: '2' },
          ],
        }),
      ),
    );
    session.end();
    await receive([topic], 3);
    const sends = t.byName(`send ${topic}`);
    expect(sends).toHaveLength(3);
    expect(sends.map((s) => s.attributes['messaging.kafka.message.key']).sort()).toEqual(['k0', 'k1', 'k2']);
    const byKey = new Map(sends.map((s) => [s.attributes['messaging.kafka.message.key'], s.spanContext().spanId]));
    for (const span of t.byName(`process ${topic}`))
      expect(parentSpanId(span)).toBe(byKey.get(span.attributes['messaging.kafka.message.key']));
  });

  it("keeps the caller's headers: a traceparent already set is kept by default and replaced with overrideTraceparent; user baggage is merged", async () => {
    const [keptTopic, overriddenTopic] = (await createTopics(kafka, 2)) as [string, string];
    const foreign = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
    const userHeaders = Object.freeze({ traceparent: foreign, baggage: 'tenant=acme', 'x-user': 'u1' });
    const session = startSession();
    const keeping = instrumentProducer(kafka.producer());
    const overriding = instrumentProducer(kafka.producer(), { overrideTraceparent: true });
    await withProducer(keeping, (p) =>
      withSession(session, () => p.send({ topic: keptTopic, messages: [{ value: 'k', headers: userHeaders }] })),
    );
    await withProducer(overriding, (p) =>
      withSession(session, () =>
        p.send({
          topic: overriddenTopic,
          messages: [
            { value: 'o', headers: userHeaders },
            { value: 'm', headers: { baggage: 'tenant=acme' } },
          ],
        }),
      ),
    );
    session.end();

    const received = await receive([keptTopic, overriddenTopic], 3);
    const kept = received.find((r) => r.topic === keptTopic)!;
    // 0.2.0 (CHANGELOG, one header-merge rule): the forwarded message keeps its traceparent, and
    // the session it was produced in joins its baggage, so the consumer rejoins that session.
    expect(kept.headers.traceparent).toBe(foreign);
    expect(kept.headers['x-user']).toBe('u1');
    expect(kept.headers.baggage).toMatch(
      new RegExp(
        `^agentops\\.session\\.id=${session.id},agentops\\.session\\.root=[0-9a-f]{16},agentops\\.session\\.flags=0[23],tenant=acme$`,
      ),
    );
    expect(kept.sessionId).toBe(session.id);
    expect(kept.tenant).toBe('acme');
    const processKept = t.one(`process ${keptTopic}`);
    expect(processKept.spanContext().traceId).toBe(session.id);
    expect(processKept.parentSpanContext?.spanId).toBe(session.rootSpanId);
    expect(processKept.links.map((l) => l.context.spanId)).toContain('cd'.repeat(8));

    const [overridden, merged] = received.filter((r) => r.topic === overriddenTopic);
    for (const r of [overridden!, merged!]) {
      expect(r.headers.traceparent).toContain(session.id);
      expect(r.sessionId).toBe(session.id);
      expect(r.tenant).toBe('acme');
      expect(r.headers.baggage).toMatch(
        /^agentops\.session\.id=[0-9a-f]{32},agentops\.session\.root=[0-9a-f]{16},agentops\.session\.flags=0[23],tenant=acme$/,
      );
    }
    expect(overridden!.headers['x-user']).toBe('u1');
  });

  it('records a failed send on its span and rethrows the kafkajs error unchanged', async () => {
    const producer = instrumentProducer(kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } }));
    const missing = uniqueName('missing');
    const seen = await withProducer(producer, async (p) => {
      try {
        await p.send({ topic: missing, messages: [{ value: 'x' }], acks: 1, timeout: 1000 });
        return undefined;
      } catch (err) {
        return err;
      }
    });
    expect(seen).toBeInstanceOf(Error);
    const span = t.one(`send ${missing}`);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toBe((seen as Error).message);
  });

  it('passes input kafkajs rejects to kafkajs untouched: the caller gets kafkajs’ own error', async () => {
    const producer = instrumentProducer(kafka.producer());
    await withProducer(producer, async (p) => {
      await expect(p.send({ topic: 'x', messages: 'nope' } as never)).rejects.toThrow(/messages/i);
      await expect(p.sendBatch({ topicMessages: [null] } as never)).rejects.toThrow();
    });
    expect(t.spans()).toHaveLength(0);
  });

  it('forwards the rest of the producer interface: events, on, isIdempotent, logger', async () => {
    const raw = kafka.producer();
    const producer = instrumentProducer(raw);
    expect(producer.events).toBe(raw.events);
    expect(producer.isIdempotent()).toBe(raw.isIdempotent());
    expect(producer.logger()).toBeDefined();
    let connected = 0;
    const remove = producer.on(producer.events.CONNECT, () => connected++);
    await producer.connect();
    await producer.disconnect();
    remove();
    expect(connected).toBe(1);
    expect(instrumentProducer(producer)).toBe(producer);
  });
});

describe('kafkajs transactions against a real broker', () => {
  it('send and sendBatch inside a transaction carry the session; committed messages join it', async () => {
    const [a, b] = (await createTopics(kafka, 2)) as [string, string];
    const producer = instrumentProducer(kafka.producer({ transactionalId: uniqueName('tx'), maxInFlightRequests: 1, idempotent: true }));
    const session = startSession();
    await withProducer(producer, async (p) => {
      const tx = await p.transaction();
      await withSession(session, async () => {
        await tx.send({ topic: a, messages: [{ value: 'in-tx' }] });
        await tx.sendBatch({ topicMessages: [{ topic: b, messages: [{ value: 'b1' }, { value: 'b2' }] }] });
      });
      expect(tx.isActive()).toBe(true);
      await tx.commit();
    });
    session.end();

    const received = await receive([a, b], 3);
    expect(received.map((r) => r.sessionId)).toEqual([session.id, session.id, session.id]);
    const sendA = t.one(`send ${a}`);
    const sendB = t.one(`send ${b}`);
    expect(sendA.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(t.one(`process ${a}`))).toBe(sendA.spanContext().spanId);
    for (const span of t.byName(`process ${b}`)) expect(parentSpanId(span)).toBe(sendB.spanContext().spanId);
  });

  it('an aborted transaction still records its send span and delivers nothing to a read-committed consumer', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const producer = instrumentProducer(kafka.producer({ transactionalId: uniqueName('tx'), maxInFlightRequests: 1, idempotent: true }));
    await withProducer(producer, async (p) => {
      const aborted = await p.transaction();
      await aborted.send({ topic, messages: [{ value: 'aborted' }] });
      await aborted.abort();
      const committed = await p.transaction();
      await committed.send({ topic, messages: [{ value: 'committed' }] });
      await committed.commit();
    });
    const received = await receive([topic], 1);
    expect(received.map((r) => r.value)).toEqual(['committed']);
    expect(t.byName(`send ${topic}`)).toHaveLength(2);
  });
});
