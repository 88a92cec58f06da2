/**
 * Issue 14, item 2: the producer's permission to write the session entry belongs to the message
 * headers its hop built, never to the context kafkajs' `send` runs in. An HTTP call made while
 * kafkajs sends (an OAuth token provider, a schema registry, a log shipper) injects through the
 * global propagator, as instrumentation-http does, and must not carry the signed session entry.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation } from '@opentelemetry/api';
import type { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { instrumentProducer } from '../../adapters/kafkajs/index.js';
import { startSession, withSession } from '../../src/index.js';
import { setupTracing, type TestTracing } from '../helpers/otel.js';
import { createTopics, kafkaClient, withProducer } from './helpers.js';

let t: TestTracing;
let kafka: Kafka;
let server: http.Server;
let url: string;
const received: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  t = setupTracing();
  kafka = kafkaClient();
  server = http.createServer((req, res) => {
    received.push(req.headers);
    res.end('token');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterEach(() => {
  t.reset();
  received.length = 0;
});
afterAll(async () => {
  server.close();
  await t.shutdown();
});

/** An HTTP GET whose headers come from the global propagator in the active context (what instrumentation-http writes). */
async function thirdPartyCall(): Promise<void> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(url, { headers }, resolve).on('error', reject));
  res.resume();
  await once(res, 'end');
}

/** A kafkajs producer whose `send` first makes a third-party HTTP call; records what it was asked to send. */
function producerCallingOut(sent: ProducerRecord[]): Producer {
  const producer = kafka.producer();
  return new Proxy(producer, {
    get(target, key, receiver) {
      if (key !== 'send') return Reflect.get(target, key, receiver) as unknown;
      return async (record: ProducerRecord) => {
        sent.push(record);
        await thirdPartyCall();
        return target.send(record);
      };
    },
  });
}

describe("the producer's session permit stays on the messages it built", () => {
  for (const signingKey of [undefined, 'kafka-signing-key-0123456789']) {
    it(`an HTTP call made during send gets the trace context but not the session entry (${signingKey === undefined ? 'unsigned' : 'signed'})`, async () => {
      const [topic] = (await createTopics(kafka)) as [string];
      const sent: ProducerRecord[] = [];
      const producer = instrumentProducer(producerCallingOut(sent), signingKey === undefined ? undefined : { signingKey });
      const session = startSession();
      await withProducer(producer, (p) => withSession(session, () => p.send({ topic, messages: [{ value: 'x' }] })));
      session.end();

      // The message the hop built carries the session entry (signed with a key).
      const headers = sent[0]!.messages[0]!.headers as Record<string, string>;
      expect(headers.baggage).toContain(`agentops.session.id=${session.id}`);
      if (signingKey !== undefined) expect(headers.baggage).toMatch(/agentops\.session\.id=[0-9a-f]{32},.*agentops\.session\.sig=v1\./);

      // The third party: the PRODUCER span is its parent (trace context as the policy allows), no session entry.
      expect(received).toHaveLength(1);
      const producerSpan = t.one(`send ${topic}`);
      expect(String(received[0]!.baggage ?? '')).not.toContain('agentops.session.id');
      expect(received[0]!.traceparent).toMatch(new RegExp(`^00-${session.id}-${producerSpan.spanContext().spanId}-0[13]$`));
    });
  }
});
