// Smoke test of the Kafka broker the integration project runs against (see
// test/setup/services.ts): if this fails, the Kafka adapter tests cannot mean anything.

import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Consumer, type IHeaders, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaBrokers } from '../services/env.js';

describe('kafka broker', () => {
  const kafka = new Kafka({ clientId: 'broker-smoke', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const topic = `smoke-broker-${randomUUID()}`;
  const admin = kafka.admin();
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;

  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('round-trips three messages with their headers', async () => {
    await admin.connect();
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toContain(topic);

    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const sent = [0, 1, 2].map((i) => ({
      key: `key-${i}`,
      value: JSON.stringify({ seq: i }),
      headers: {
        traceparent: `00-${'a'.repeat(31)}${i}-${'b'.repeat(16)}-01`,
        'x-seq': String(i),
      },
    }));
    const metadata = await producer.send({ topic, messages: sent, acks: -1 });
    expect(metadata).toHaveLength(1);
    expect(metadata[0]?.errorCode).toBe(0);

    consumer = kafka.consumer({ groupId: `smoke-broker-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: { key: Buffer | null; value: Buffer | null; headers: IHeaders; offset: string }[] = [];
    const allReceived = new Promise<void>((resolve) => {
      void consumer!.run({
        eachMessage: async ({ message }) => {
          received.push({ key: message.key, value: message.value, headers: message.headers ?? {}, offset: message.offset });
          if (received.length === sent.length) resolve();
        },
      });
    });
    await Promise.race([
      allReceived,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${received.length}/3 messages arrived`)), 60_000)),
    ]);

    expect(received.map((m) => m.offset)).toEqual(['0', '1', '2']);
    received.forEach((m, i) => {
      expect(m.key?.toString()).toBe(`key-${i}`);
      expect(JSON.parse(m.value!.toString())).toEqual({ seq: i });
      // kafkajs hands header values back as Buffers, whatever type was sent.
      expect(Object.keys(m.headers).sort()).toEqual(['traceparent', 'x-seq']);
      expect(Buffer.isBuffer(m.headers.traceparent)).toBe(true);
      expect(Buffer.isBuffer(m.headers['x-seq'])).toBe(true);
      expect(m.headers.traceparent!.toString()).toBe(sent[i]!.headers.traceparent);
      expect(m.headers['x-seq']!.toString()).toBe(String(i));
    });
  });
});
