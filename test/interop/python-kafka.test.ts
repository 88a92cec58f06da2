/**
 * Kafka through a Python service on the stock OpenTelemetry Python SDK and aiokafka
 * (test/interop/python/kafka_relay.py): a TypeScript producer (`instrumentProducer`) sends from
 * several sessions at once; the Python service consumes each message in the context extracted
 * from its headers and produces it onward with the context injected; a TypeScript consumer takes
 * the whole lot in one `eachBatch` and runs each message in its session with `withMessageContext`.
 * Real broker.
 */
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentConsumer, instrumentProducer, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, uniqueName, withProducer } from '../kafka/helpers.js';
import { kafkaBrokers } from '../services/env.js';
import { PythonService, type PythonSpan } from './python-services.js';

const t = useTracing();
const SIGNING_KEY = 'python-interop-signing-key-0123456789';
const TAMPERS = ['id', 'sig', 'reencode', 'unsigned'] as const;
/** What the Python service does to a message's session entry: nothing (null) or one of {@link TAMPERS}. */
type Tamper = (typeof TAMPERS)[number] | null;

let kafka: Kafka;
let python: PythonService;
const topics = { plainIn: '', plainOut: '', signedIn: '', signedOut: '' };

beforeAll(async () => {
  kafka = kafkaClient();
  [topics.plainIn, topics.plainOut, topics.signedIn, topics.signedOut] = (await createTopics(kafka, 4)) as [string, string, string, string];
  python = await PythonService.start(
    'kafka_relay.py',
    [uniqueName('python-relay'), `${topics.plainIn}=${topics.plainOut}`, `${topics.signedIn}=${topics.signedOut}`],
    { KAFKA_BROKERS: kafkaBrokers().join(',') },
  );
});

afterAll(async () => {
  await python?.stop();
});

/** A message the test sends: its key names the session (`s<i>-<j>`); `tamper` asks Python to alter the entry. */
interface Sent {
  key: string;
  session: Session;
  tamper: Tamper;
}

/** Each session sends its messages in one `send` call, all sessions at once. */
async function produce(topic: string, sessions: Session[], messages: (i: number) => Tamper[], signingKey: string | null): Promise<Sent[]> {
  const sent: Sent[] = [];
  const producer = instrumentProducer(kafka.producer(), { signingKey });
  await withProducer(producer, (p) =>
    Promise.all(
      sessions.map((session, i) => {
        const batch = messages(i).map((tamper, j) => {
          const key = `s${i}-${j}`;
          sent.push({ key, session, tamper });
          return { key, value: JSON.stringify({ tamper }) };
        });
        return withSession(session, () => p.send({ topic, messages: batch }));
      }),
    ),
  );
  for (const s of sessions) s.end();
  return sent;
}

const keyOf = (span: PythonSpan): string => String(span.attributes['messaging.kafka.message.key']);

/** What the TypeScript consumer saw of one message inside `withMessageContext`. */
interface Seen {
  sessionId: string | null;
  spanId: string;
}

/**
 * Waits until Python forwarded every message to `outTopic`, then consumes them all in one batch.
 * Returns what each message's handler saw, by key, and the batch span.
 */
async function consumeForwarded(
  outTopic: string,
  sent: Sent[],
  signingKey: string | null,
): Promise<{ seen: Map<string, Seen>; batch: ReadableSpan }> {
  const keys = new Set(sent.map((s) => s.key));
  await python.spansWhere(`send ${outTopic} spans`, (s) => s.name === `send ${outTopic}` && keys.has(keyOf(s)), keys.size);
  const seen = new Map<string, Seen>();
  const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()), { signingKey });
  await consumeUntil(
    consumer,
    [outTopic],
    {
      eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
        for (const message of batch.messages) {
          await withMessageContext(message, async () => {
            seen.set(String(message.key), { sessionId: getSessionId() ?? null, spanId: trace.getActiveSpan()!.spanContext().spanId });
          });
        }
      },
    },
    `${keys.size} messages`,
    () => seen.size === keys.size && messageSpans(outTopic).length === keys.size,
  );
  // Python forwarded everything before the consumer started: the whole lot is one batch.
  const batches = t.byName(`process ${outTopic}`).filter(isBatchSpan);
  expect(batches).toHaveLength(1);
  expect(batches[0]!.attributes['messaging.batch.message_count']).toBe(keys.size);
  return { seen, batch: batches[0]! };
}

const isBatchSpan = (s: ReadableSpan) => s.attributes['messaging.batch.message_count'] !== undefined;
const messageSpans = (topic: string) => t.byName(`process ${topic}`).filter((s) => !isBatchSpan(s));

/** The Python service's consumer and producer spans for one message, checked against its session. */
function expectPythonRelayed(inTopic: string, outTopic: string, sent: Sent): { process: PythonSpan; send: PythonSpan } {
  const { key, session } = sent;
  const tsSend = t.spans().filter((s) => s.name === `send ${inTopic}` && s.spanContext().traceId === session.id);
  expect(tsSend).toHaveLength(1);
  const process = python.spans.filter((s) => s.name === `process ${inTopic}` && keyOf(s) === key);
  const send = python.spans.filter((s) => s.name === `send ${outTopic}` && keyOf(s) === key);
  expect(process).toHaveLength(1);
  expect(send).toHaveLength(1);
  // The stock SDK continued the producer's trace (parent shape) and read the session from the baggage.
  expect(process[0]).toMatchObject({ kind: 'CONSUMER', traceId: session.id, parentSpanId: tsSend[0]!.spanContext().spanId });
  expect(process[0]!.attributes['session.id']).toBe(session.id);
  expect(send[0]).toMatchObject({ kind: 'PRODUCER', traceId: session.id, parentSpanId: process[0]!.spanId });
  return { process: process[0]!, send: send[0]! };
}

function messageSpan(spanId: string): ReadableSpan {
  const found = t.spans().filter((s) => s.spanContext().spanId === spanId);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** A message handled in its session: rejoined under the session root, linked to Python's producer span and the batch. */
function expectJoined(seen: Seen, session: Session, pythonSend: PythonSpan, batch: ReadableSpan): void {
  expect(seen.sessionId).toBe(session.id);
  const span = messageSpan(seen.spanId);
  expect(span.spanContext().traceId).toBe(session.id);
  expect(parentSpanId(span)).toBe(session.rootSpanId);
  expect(span.attributes['session.id']).toBe(session.id);
  expect(span.attributes['agentops.hop.trust']).toBe('trust');
  expect(span.attributes['agentops.hop.shape']).toBe('rejoin');
  expect(span.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes?.['agentops.link.type']])).toEqual([
    [session.id, pythonSend.spanId, 'predecessor'],
    [batch.spanContext().traceId, batch.spanContext().spanId, 'batch'],
  ]);
}

describe('Kafka: TypeScript producer -> Python (stock OTel SDK, aiokafka) -> TypeScript eachBatch', () => {
  it('five sessions at once, two messages each: every message lands in its own session after the Python hop', async () => {
    const sessions = Array.from({ length: 5 }, (_, i) => startSession({ name: `python-kafka-${i}` }));
    const sent = await produce(topics.plainIn, sessions, () => [null, null], null);
    const { seen, batch } = await consumeForwarded(topics.plainOut, sent, null);
    expect(seen.size).toBe(10);
    // The batch span is a new root linking each Python producer span once.
    expect(parentSpanId(batch)).toBeUndefined();
    expect(sessions.map((s) => s.id)).not.toContain(batch.spanContext().traceId);
    const pythonSends = sent.map((s) => expectPythonRelayed(topics.plainIn, topics.plainOut, s).send);
    expect(new Set(batch.links.map((l) => l.context.spanId))).toEqual(new Set(pythonSends.map((s) => s.spanId)));
    for (const [i, s] of sent.entries()) expectJoined(seen.get(s.key)!, s.session, pythonSends[i]!, batch);
  });

  it('signed: entries passed through Python verify; entries Python altered are refused and the message is only linked', async () => {
    const sessions = Array.from({ length: TAMPERS.length }, (_, i) => startSession({ name: `python-kafka-signed-${i}` }));
    // Each session: one message passed on as received, one altered in a different way.
    const sent = await produce(topics.signedIn, sessions, (i) => [null, TAMPERS[i]!], SIGNING_KEY);
    const { seen, batch } = await consumeForwarded(topics.signedOut, sent, SIGNING_KEY);
    for (const s of sent) {
      const { send } = expectPythonRelayed(topics.signedIn, topics.signedOut, s);
      const handled = seen.get(s.key)!;
      if (s.tamper === null) {
        expectJoined(handled, s.session, send, batch);
        continue;
      }
      expect(handled.sessionId, s.tamper).toBeNull();
      const span = messageSpan(handled.spanId);
      expect(span.spanContext().traceId).not.toBe(s.session.id);
      expect(parentSpanId(span)).toBeUndefined();
      expect(span.attributes['session.id']).toBeUndefined();
      expect(span.attributes['agentops.hop.trust']).toBe('link');
      expect(span.attributes['agentops.hop.shape']).toBe('root');
      expect(span.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
        [s.session.id, send.spanId],
        [batch.spanContext().traceId, batch.spanContext().spanId],
      ]);
    }
  });
});
