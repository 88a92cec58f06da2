import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { EachMessagePayload, IHeaders, Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { instrumentConsumer, instrumentProducer, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { createKeyring, getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { startOutboundHop } from '../../src/engine.js';
import { parentSpanId, setupTracing, type TestTracing } from '../helpers/otel.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, withProducer } from './helpers.js';

let t: TestTracing;
let kafka: Kafka;
const logged: string[] = [];
// Component loggers pass their namespace first, then the message.
const record = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
const collector: DiagLogger = { error: record, warn: record, info: record, debug: record, verbose: () => {} };
beforeAll(() => {
  t = setupTracing();
  kafka = kafkaClient();
  diag.setLogger(collector, DiagLogLevel.DEBUG);
});
afterEach(() => {
  t.reset();
  logged.length = 0;
});
afterAll(async () => {
  diag.disable();
  await t.shutdown();
});

const KEY = 'kafka-signing-key-0123456789';
const OTHER_KEY = 'a-different-key-of-16+-bytes';

/** W3C headers an upstream hop in `session` writes, signed with `key` (or unsigned). */
function upstreamHeaders(session: Session, key: string | null): Record<string, string> {
  return withSession(session, () => {
    const hop = startOutboundHop({ spanName: 'upstream', signing: key === null ? null : createKeyring(key) });
    const fields = hop.fields();
    hop.end();
    return fields;
  });
}

interface Seen {
  value: string;
  sessionId: string | undefined;
}

describe('signed session entries on Kafka', () => {
  it('with a key: signed passes; forged, tampered and unsigned are refused and their traceparent only linked (eachMessage)', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const session = startSession();
    const signing = instrumentProducer(kafka.producer(), { signingKey: KEY });
    await withProducer(signing, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'signed' }] })));

    const valid = upstreamHeaders(session, KEY);
    const victim = startSession();
    const hostile: [string, IHeaders][] = [
      ['forged', upstreamHeaders(session, OTHER_KEY)],
      ['tampered', { ...valid, baggage: valid.baggage!.replace(session.id, victim.id) }],
      ['unsigned', upstreamHeaders(session, null)],
    ];
    const raw = kafka.producer();
    await withProducer(raw, (p) => p.send({ topic, messages: hostile.map(([value, headers]) => ({ value, headers })) }));
    session.end();
    victim.end();

    const seen: Seen[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), { signingKey: KEY });
    await consumeUntil(
      consumer,
      [topic],
      {
        eachMessage: async ({ message }: EachMessagePayload) => void seen.push({ value: String(message.value), sessionId: getSessionId() }),
      },
      'four process spans',
      () => t.byName(`process ${topic}`).length === 4,
    );

    expect(seen).toEqual([
      { value: 'signed', sessionId: session.id },
      { value: 'forged', sessionId: undefined },
      { value: 'tampered', sessionId: undefined },
      { value: 'unsigned', sessionId: undefined },
    ]);
    expect(t.one(`send ${topic}`).spanContext().traceId).toBe(session.id);
    const spans = t.byName(`process ${topic}`);
    const byOffset = new Map(spans.map((s) => [s.attributes['messaging.kafka.offset'], s]));
    expect(byOffset.get(0)!.spanContext().traceId).toBe(session.id);
    expect(byOffset.get(0)!.attributes['agentops.hop.trust']).toBe('trust');
    for (const offset of [1, 2, 3]) {
      const span = byOffset.get(offset)!;
      expect(span.spanContext().traceId).not.toBe(session.id);
      expect(span.spanContext().traceId).not.toBe(victim.id);
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.attributes['agentops.hop.trust']).toBe('link');
      expect(span.links.map((l) => l.context.traceId)).toEqual([session.id]);
    }
    expect(logged.filter((m) => m.includes('inbound session entry refused'))).toHaveLength(3);
  });

  it('a per-topic signing key verifies that topic only; eachBatch links refused messages and keeps them out of the session', async () => {
    const [strict, open] = (await createTopics(kafka, 2)) as [string, string];
    const session = startSession();
    const unsigned = instrumentProducer(kafka.producer(), { signingKey: null });
    await withProducer(unsigned, (p) =>
      withSession(session, () =>
        p.sendBatch({
          topicMessages: [
            { topic: strict, messages: [{ value: 's' }] },
            { topic: open, messages: [{ value: 'o' }] },
          ],
        }),
      ),
    );
    session.end();
    const seen: Record<string, string | undefined> = {};
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), {
      signingKey: null,
      topics: { [strict]: { signingKey: KEY } },
    });
    await consumeUntil(
      consumer,
      [strict, open],
      {
        eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
          for (const m of batch.messages) await withMessageContext(m, async () => void (seen[batch.topic] = getSessionId()));
        },
      },
      'two batches',
      () => Object.keys(seen).length === 2,
    );
    expect(seen).toEqual({ [strict]: undefined, [open]: session.id });
    const strictSpans = t.byName(`process ${strict}`);
    const perMessage = strictSpans.find((s) => s.attributes['messaging.batch.message_count'] === undefined)!;
    expect(perMessage.spanContext().traceId).not.toBe(session.id);
    expect(perMessage.attributes['agentops.hop.trust']).toBe('link');
    const batchSpan = strictSpans.find((s) => s.attributes['messaging.batch.message_count'] !== undefined)!;
    expect(batchSpan.links.map((l) => l.context.spanId)).toEqual([t.one(`send ${strict}`).spanContext().spanId]);
  });
});

describe('hostile headers on Kafka', () => {
  it('huge, binary, malformed, repeated and mis-cased headers are dropped with a diag log; every message is delivered untouched', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const session = startSession();
    const valid = upstreamHeaders(session, null);
    session.end();
    const validTraceparent = valid.traceparent!;
    const hostile: [string, IHeaders][] = [
      ['huge-baggage', { baggage: `k=${'v'.repeat(300_000)}` }],
      ['huge-traceparent', { traceparent: `00-${'a'.repeat(200_000)}` }],
      [
        'binary',
        { traceparent: Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x81]), baggage: Buffer.alloc(64, 0xff), tracestate: Buffer.from([0, 1, 2]) },
      ],
      ['malformed', { traceparent: '00-zz-yy-01', baggage: 'no-equals-sign,=,;;;', tracestate: '@@@' }],
      ['repeated', { traceparent: [validTraceparent, validTraceparent] }],
      ['two-casings', { Traceparent: validTraceparent, TRACEPARENT: validTraceparent }],
      ['many-members', { baggage: Array.from({ length: 2000 }, (_, i) => `k${i}=v`).join(',') }],
    ];
    const raw = kafka.producer();
    await withProducer(raw, (p) => p.send({ topic, messages: hostile.map(([value, headers]) => ({ value, headers })) }));

    const seen: { value: string; sessionId: string | undefined; headerKeys: string[] }[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachMessage: async ({ message }: EachMessagePayload) =>
          void seen.push({ value: String(message.value), sessionId: getSessionId(), headerKeys: Object.keys(message.headers ?? {}) }),
      },
      'all hostile messages',
      () => t.byName(`process ${topic}`).length === hostile.length,
    );

    expect(seen.map((s) => s.value)).toEqual(hostile.map(([v]) => v));
    expect(seen.map((s) => s.headerKeys)).toEqual(hostile.map(([, h]) => Object.keys(h)));
    expect(seen.every((s) => s.sessionId === undefined)).toBe(true);
    for (const span of t.byName(`process ${topic}`)) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.attributes['agentops.hop.shape']).toBe('root');
    }
    expect(logged.some((m) => m.includes('repeated traceparent rejected'))).toBe(true);
    expect(logged.filter((m) => m.includes('invalid traceparent rejected')).length).toBeGreaterThanOrEqual(3);
    expect(logged.some((m) => m.includes('scan window'))).toBe(true);
    expect(logged.some((m) => m.includes('malformed member'))).toBe(true);
  });

  it("a producer's capitalised traceparent is read when no lowercase one exists", async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const session = startSession();
    const valid = upstreamHeaders(session, null);
    session.end();
    const raw = kafka.producer();
    await withProducer(raw, (p) =>
      p.send({ topic, messages: [{ value: 'x', headers: { Traceparent: valid.traceparent!, Baggage: valid.baggage! } }] }),
    );
    const seen: (string | undefined)[] = [];
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      { eachMessage: async () => void seen.push(getSessionId()) },
      'one message',
      () => seen.length === 1,
    );
    expect(seen).toEqual([session.id]);
    expect(parentSpanId(t.one(`process ${topic}`))).toBe(t.one('upstream').spanContext().spanId);
  });
});
