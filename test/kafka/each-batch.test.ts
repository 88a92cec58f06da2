import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  instrumentConsumer,
  instrumentProducer,
  withMessageContext,
  type InstrumentedEachBatchPayload,
} from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, kafkaErrors, withProducer } from './helpers.js';

const t = useTracing();
let kafka: Kafka;
beforeAll(() => {
  kafka = kafkaClient();
});

const isBatchSpan = (s: ReadableSpan) => s.attributes['messaging.batch.message_count'] !== undefined;
const batchSpans = (topic: string) => t.byName(`process ${topic}`).filter(isBatchSpan);
const messageSpans = (topic: string) => t.byName(`process ${topic}`).filter((s) => !isBatchSpan(s));
const batchMessageCount = (topic: string) =>
  batchSpans(topic).reduce((n, s) => n + Number(s.attributes['messaging.batch.message_count']), 0);

/** Each session sends `perSession` messages in one send call: one producer span per session. */
async function produceFromSessions(topic: string, sessionCount: number, perSession: number): Promise<Session[]> {
  const producer = instrumentProducer(kafka.producer());
  const sessions = Array.from({ length: sessionCount }, (_, i) => startSession({ name: `agent-${i}` }));
  await withProducer(producer, (p) =>
    Promise.all(
      sessions.map((session, i) =>
        withSession(session, () =>
          p.send({ topic, messages: Array.from({ length: perSession }, (_, j) => ({ key: `s${i}`, value: `${i}:${j}` })) }),
        ),
      ),
    ),
  );
  for (const s of sessions) s.end();
  return sessions;
}

describe('kafkajs eachBatch against a real broker', () => {
  it('a batch mixing five sessions: one root batch span linking each producer span once; withMessageContext lands each message in its own session', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const sessions = await produceFromSessions(topic, 5, 2);
    const sessionOf = new Map(sessions.map((s, i) => [`s${i}`, s]));

    const work: { key: string; sessionId: string | undefined; returned: unknown }[] = [];
    const inBatch: (string | undefined)[] = [];
    const tracer = trace.getTracer('user-code');
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachBatch: async ({ batch, withMessageContext: run }: InstrumentedEachBatchPayload) => {
          inBatch.push(getSessionId());
          for (const message of batch.messages) {
            const returned = await run(message, async () => {
              await tracer.startActiveSpan('work', async (span) => {
                await new Promise((r) => setImmediate(r));
                span.end();
              });
              work.push({ key: String(message.key), sessionId: getSessionId(), returned: undefined });
              return `done ${String(message.value)}`;
            });
            work[work.length - 1]!.returned = returned;
          }
        },
      },
      'ten messages',
      () => batchMessageCount(topic) === 10 && messageSpans(topic).length === 10,
    );

    expect(inBatch.every((id) => id === undefined)).toBe(true);
    expect(work).toHaveLength(10);
    for (const w of work) {
      expect(w.sessionId).toBe(sessionOf.get(w.key)!.id);
      expect(w.returned).toMatch(/^done \d:\d$/);
    }

    const sendIds = new Set(t.byName(`send ${topic}`).map((s) => s.spanContext().spanId));
    expect(sendIds.size).toBe(5);
    const batches = batchSpans(topic);
    const linked = batches.flatMap((b) => b.links.map((l) => l.context.spanId));
    for (const b of batches) {
      expect(b.kind).toBe(SpanKind.CONSUMER);
      expect(b.parentSpanContext).toBeUndefined();
      expect(sessions.map((s) => s.id)).not.toContain(b.spanContext().traceId);
      expect(b.attributes['session.id']).toBeUndefined();
      expect(new Set(b.links.map((l) => l.context.spanId)).size).toBe(b.links.length);
      for (const link of b.links) expect(link.attributes?.['agentops.link.type']).toBe('predecessor');
    }
    expect(new Set(linked)).toEqual(sendIds);

    const workSpans = t.byName('work');
    for (const span of messageSpans(topic)) {
      const session = sessionOf.get(String(span.attributes['messaging.kafka.message.key']))!;
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(session.id);
      expect(parentSpanId(span)).toBe(session.rootSpanId);
      expect(span.attributes['session.id']).toBe(session.id);
      expect(span.attributes['agentops.hop.shape']).toBe('rejoin');
      expect(span.links.map((l) => l.attributes?.['agentops.link.type'])).toEqual(['predecessor', 'batch']);
      expect(sendIds.has(span.links[0]!.context.spanId)).toBe(true);
      expect(batches.map((b) => b.spanContext().spanId)).toContain(span.links[1]!.context.spanId);
      const child = workSpans.filter((w) => parentSpanId(w) === span.spanContext().spanId);
      expect(child).toHaveLength(1);
      expect(child[0]!.spanContext().traceId).toBe(session.id);
    }
  });

  it('a batch larger than the link limit: 150 sessions give exactly 128 links and agentops.links.dropped = 22', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const sessions = await produceFromSessions(topic, 150, 1);
    const seenSessions = new Set<string | undefined>();
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachBatch: async ({ batch, withMessageContext: run }: InstrumentedEachBatchPayload) => {
          for (const message of batch.messages) run(message, () => seenSessions.add(getSessionId()));
        },
      },
      '150 messages',
      () => batchMessageCount(topic) === 150,
    );
    const [batch] = batchSpans(topic);
    expect(batchSpans(topic)).toHaveLength(1);
    expect(batch!.attributes['messaging.batch.message_count']).toBe(150);
    expect(batch!.links).toHaveLength(128);
    expect(batch!.droppedLinksCount).toBe(0);
    expect(batch!.attributes['agentops.links.dropped']).toBe(22);
    expect(seenSessions).toEqual(new Set(sessions.map((s) => s.id)));
  });

  it('withMessageContext returns what fn returns, synchronously for a plain value; errors are recorded and rethrown unchanged', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const [session] = await produceFromSessions(topic, 1, 1);
    const outcomes: unknown[] = [];
    const boom = new RangeError('bad message');
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachBatch: async ({ batch, withMessageContext: run }: InstrumentedEachBatchPayload) => {
          const message = batch.messages[0]!;
          outcomes.push(run(message, () => 7));
          outcomes.push(await run(message, async () => getSessionId()));
          try {
            run(message, () => {
              throw boom;
            });
          } catch (err) {
            outcomes.push(err);
          }
          await run(message, () => Promise.reject(boom)).catch((err: unknown) => outcomes.push(err));
        },
      },
      'four message spans',
      () => messageSpans(topic).length === 4,
    );
    expect(outcomes[0]).toBe(7);
    expect(outcomes[1]).toBe(session!.id);
    expect(outcomes[2]).toBe(boom);
    expect(outcomes[3]).toBe(boom);
    const statuses = messageSpans(topic).map((s) => s.status.code);
    expect(statuses.filter((c) => c === SpanStatusCode.ERROR)).toHaveLength(2);
  });

  it('a batch handler error is recorded on the batch span and rethrown; kafkajs redelivers the batch', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const [session] = await produceFromSessions(topic, 1, 3);
    const boom = new Error('batch failed');
    const deliveries: string[][] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachBatch: async ({ batch }: InstrumentedEachBatchPayload) => {
          deliveries.push(batch.messages.map((m) => m.offset));
          if (deliveries.length === 1) throw boom;
        },
      },
      'two batch spans',
      () => batchSpans(topic).length === 2,
    );
    expect(deliveries).toEqual([
      ['0', '1', '2'],
      ['0', '1', '2'],
    ]);
    const spans = batchSpans(topic).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(spans[0]!.links.map((l) => l.context.traceId)).toEqual([session!.id]);
    expect(spans[0]!.status.message).toBe('batch failed');
    // kafkajs received our handler's error object itself.
    expect(kafkaErrors.some((entry) => (entry.log as { error?: unknown }).error === boom)).toBe(true);
  });

  it("batchShape 'parent' per topic: per-message spans continue the producer span", async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    await produceFromSessions(topic, 2, 1);
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), { topics: { [topic]: { batchShape: 'parent' } } });
    await consumeUntil(
      consumer,
      [topic],
      {
        eachBatch: async ({ batch, withMessageContext: run }: InstrumentedEachBatchPayload) => {
          for (const m of batch.messages) await run(m, async () => {});
        },
      },
      'two message spans',
      () => messageSpans(topic).length === 2,
    );
    const sends = new Map(t.byName(`send ${topic}`).map((s) => [s.spanContext().traceId, s.spanContext().spanId]));
    for (const span of messageSpans(topic)) {
      expect(parentSpanId(span)).toBe(sends.get(span.spanContext().traceId));
      expect(span.attributes['agentops.hop.shape']).toBe('parent');
    }
  });

  it('the standalone withMessageContext on a message from a plain kafkajs consumer: not identified, so link (issue 13)', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const [session] = await produceFromSessions(topic, 1, 1);
    const seen: (string | undefined)[] = [];
    const plain = kafka.consumer(fastConsumerConfig());
    let handled = 0;
    await consumeUntil(
      plain,
      [topic],
      {
        eachMessage: async ({ message }: { message: KafkaMessage }) => {
          seen.push(
            getSessionId(),
            withMessageContext(message, () => getSessionId()),
          );
          handled++;
        },
      },
      'one message',
      () => handled === 1,
    );
    expect(seen).toEqual([undefined, undefined]);
    const span = t.one('process');
    // A new trace linking the producer, outside the session its headers name.
    expect(span.spanContext().traceId).not.toBe(session!.id);
    expect(parentSpanId(span)).toBeUndefined();
    expect(span.links.map((l) => l.context.traceId)).toEqual([session!.id]);
    expect(span.attributes['messaging.destination.name']).toBeUndefined();
    expect(span.attributes['messaging.system']).toBe('kafka');
    expect(context.active()).toBeDefined();
  });
});
