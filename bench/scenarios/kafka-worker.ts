/**
 * One Kafka configuration, in a process of its own (instrumentation-kafkajs patches kafkajs when
 * it is required, so it cannot share a process with the others):
 *
 *   kafka-worker.ts <bare|ours|contrib>
 *
 * Each `round` command: a new one-partition topic; the producer sends `messages` messages in
 * `send` calls of `batchSize` (measured: producer msgs/s); then a consumer in a new group reads
 * them all with eachMessage, and another with eachBatch (measured from the first message handed
 * to the handler to the last).
 */
import { trace } from '@opentelemetry/api';
import type * as KafkaJs from 'kafkajs';
import { createRequire } from 'node:module';
import type { InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import type { Session } from '../../src/index.js';
import { lib } from '../lib/build.js';
import { contribTracing, oursTracing, type Tracing } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const config = process.argv[2] as string;
const require = createRequire(import.meta.url);

async function main(): Promise<void> {
  if (!['bare', 'ours', 'contrib'].includes(config)) throw new Error('usage: kafka-worker.ts <bare|ours|contrib>');
  const { instrumentConsumer, instrumentProducer } = await lib('kafkajs');
  const { startSession, withSession } = await lib('index');
  let tracing: Tracing | undefined;
  if (config === 'ours') tracing = await oursTracing();
  if (config === 'contrib') {
    tracing = contribTracing();
    const { KafkaJsInstrumentation } = await import('@opentelemetry/instrumentation-kafkajs');
    new KafkaJsInstrumentation();
  }
  const kafkajs = require('kafkajs') as typeof KafkaJs;
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const kafka = new kafkajs.Kafka({ clientId: `bench-${config}`, brokers, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 } });
  const admin = kafka.admin();
  await admin.connect();
  const plainProducer = kafka.producer();
  await plainProducer.connect();
  const producer = config === 'ours' ? instrumentProducer(plainProducer) : plainProducer;

  // Work happens inside a session (ours) or an active span (contrib), as an agent's would.
  const session: Session | undefined = config === 'ours' ? startSession({ name: 'bench' }) : undefined;
  const inContext = <T>(fn: () => Promise<T>): Promise<T> => {
    if (session !== undefined) return withSession(session, fn);
    if (config === 'contrib') return trace.getTracer('bench').startActiveSpan('session', (span) => fn().finally(() => span.end()));
    return fn();
  };

  async function consume(topic: string, total: number, mode: 'eachMessage' | 'eachBatch'): Promise<number> {
    const plain = kafka.consumer({ groupId: `${topic}-${mode}`, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
    const consumer = config === 'ours' ? instrumentConsumer(plain) : plain;
    let count = 0;
    let first = 0;
    let done!: (elapsedMs: number) => void;
    const finished = new Promise<number>((resolve) => (done = resolve));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    if (mode === 'eachMessage') {
      await consumer.run({
        eachMessage: async () => {
          if (count === 0) first = performance.now();
          if (++count === total) done(performance.now() - first);
        },
      });
    } else {
      await consumer.run({
        eachBatch: async (payload) => {
          if (count === 0) first = performance.now();
          const withMessageContext = (payload as InstrumentedEachBatchPayload).withMessageContext;
          for (const message of payload.batch.messages) {
            // Ours: each message's work in its own session context, the way the adapter is meant to be used.
            if (withMessageContext !== undefined) withMessageContext(message, () => count++);
            else count++;
          }
          if (count >= total) done(performance.now() - first);
        },
      });
    }
    const elapsed = await finished;
    await consumer.disconnect();
    return ((mode === 'eachMessage' ? total - 1 : total) / elapsed) * 1000;
  }

  serve(
    {
      async round(args) {
        const messages = Number(args.messages);
        const batchSize = Number(args.batchSize);
        const topic = `bench-${config}-${process.pid}-${Date.now()}`;
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
        const value = JSON.stringify({ task: 'research', query: 'otters and their tools', step: 0, padding: 'x'.repeat(40) });
        const batches = Array.from({ length: Math.ceil(messages / batchSize) }, (_, b) =>
          Array.from({ length: Math.min(batchSize, messages - b * batchSize) }, (_, i) => ({ key: String(i % 16), value })),
        );
        const t0 = performance.now();
        await inContext(async () => {
          for (const batch of batches) await producer.send({ topic, messages: batch });
        });
        const produce = (messages / (performance.now() - t0)) * 1000;
        const eachMessage = await consume(topic, messages, 'eachMessage');
        const eachBatch = await consume(topic, messages, 'eachBatch');
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        return { produce, eachMessage, eachBatch };
      },
      async stats() {
        await tracing?.flush();
        return { exported: tracing?.exported() ?? 0 };
      },
    },
    { processor: tracing?.processor ?? 'none', pid: process.pid },
    async () => {
      session?.end();
      await producer.disconnect();
      await admin.disconnect();
      await tracing?.shutdown();
    },
  );
}

main().catch(fatal);
