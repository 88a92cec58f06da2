/**
 * One Kafka configuration, in a process of its own (instrumentation-kafkajs patches kafkajs when
 * it is required, so it cannot share a process with the others):
 *
 *   kafka-worker.ts <bare|hand|ours|ours-metrics|contrib>
 *
 * Each `round` command: a new one-partition topic; the producer sends `messages` messages in
 * `send` calls of `batchSize`, each call from the next of `sessions` sessions; then a consumer in
 * a new group reads them all with eachMessage, and another with eachBatch (each message's work
 * through withMessageContext for ours, the reference's per-message span for hand). Measured: this
 * process's CPU µs per message in each phase (consumers: from the first message handed over to
 * the last).
 */
import type * as KafkaJs from 'kafkajs';
import { createRequire } from 'node:module';
import { referenceMessage, referenceSend } from '../reference/kafka.js';
import { agentSessions, sessionMakerOf } from '../lib/agent-sessions.js';
import { settledHeap } from '../lib/heap.js';
import { oursTracing, sdkTracing, type Tracing } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const config = process.argv[2] as string;
const require = createRequire(import.meta.url);

type Send = KafkaJs.Producer['send'];
type Consumer = KafkaJs.Consumer;
type MessageContext = (message: KafkaJs.KafkaMessage, fn: () => unknown) => unknown;

/** What each configuration wraps: the send path, a consumer, and the per-message work of eachBatch. */
async function configuration(): Promise<{
  tracing: Tracing | undefined;
  wrapProducer(p: KafkaJs.Producer): Send;
  wrapConsumer(c: Consumer): Consumer;
  perMessage(payload: KafkaJs.EachBatchPayload, groupId: string): MessageContext;
}> {
  const plain =
    (_payload: KafkaJs.EachBatchPayload, _groupId: string): MessageContext =>
    (_m, fn) =>
      fn();
  if (config === 'ours' || config === 'ours-metrics') {
    const tracing = await oursTracing({ metrics: config === 'ours-metrics' });
    const { instrumentConsumer, instrumentProducer } = await import('agentops-propagation/kafkajs');
    return {
      tracing,
      wrapProducer: (p) => {
        const instrumented = instrumentProducer(p);
        return instrumented.send.bind(instrumented);
      },
      wrapConsumer: (c) => instrumentConsumer(c),
      perMessage: (payload) => (payload as unknown as { withMessageContext: MessageContext }).withMessageContext,
    };
  }
  if (config === 'hand') {
    return {
      tracing: sdkTracing(),
      wrapProducer: (p) => ((record: Parameters<Send>[0]) => referenceSend(p.send.bind(p) as never, record as never)) as Send,
      wrapConsumer: (c) => c,
      perMessage: (payload, groupId) => (message, fn) =>
        referenceMessage(payload.batch.topic, payload.batch.partition, groupId, message, fn),
    };
  }
  if (config === 'contrib') {
    const tracing = sdkTracing();
    const { KafkaJsInstrumentation } = await import('@opentelemetry/instrumentation-kafkajs');
    new KafkaJsInstrumentation();
    return { tracing, wrapProducer: (p) => p.send.bind(p), wrapConsumer: (c) => c, perMessage: plain };
  }
  if (config !== 'bare') throw new Error('usage: kafka-worker.ts <bare|hand|ours|ours-metrics|contrib>');
  return { tracing: undefined, wrapProducer: (p) => p.send.bind(p), wrapConsumer: (c) => c, perMessage: plain };
}

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function main(): Promise<void> {
  const { tracing, wrapProducer, wrapConsumer, perMessage } = await configuration();
  const kafkajs = require('kafkajs') as typeof KafkaJs;
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const kafka = new kafkajs.Kafka({
    clientId: `bench-${config}`,
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const send = wrapProducer(producer);
  let handled = 0;

  /** CPU µs per message from the first message handed to the handler to the last. */
  async function consume(topic: string, total: number, mode: 'eachMessage' | 'eachBatch'): Promise<number> {
    const groupId = `${topic}-${mode}`;
    const consumer = wrapConsumer(kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 }));
    let count = 0;
    let first = 0;
    let done!: (micros: number) => void;
    const finished = new Promise<number>((resolve) => (done = resolve));
    const work = () => {
      if (count++ === 0) first = cpuMicros();
      if (count === total) done(cpuMicros() - first);
    };
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    if (mode === 'eachMessage') {
      const handler =
        config === 'hand' ? (p: KafkaJs.EachMessagePayload) => referenceMessage(p.topic, p.partition, groupId, p.message, work) : work;
      await consumer.run({ eachMessage: async (payload) => handler(payload) });
    } else {
      await consumer.run({
        eachBatch: async (payload) => {
          const inContext = perMessage(payload, groupId);
          for (const message of payload.batch.messages) inContext(message, work);
        },
      });
    }
    const micros = await finished;
    await consumer.disconnect();
    handled += total;
    return micros / (total - 1);
  }

  serve(
    {
      async round(args) {
        const messages = Number(args.messages);
        const batchSize = Number(args.batchSize);
        const sessions = await agentSessions(sessionMakerOf(config), Number(args.sessions));
        const topic = `bench-${config}-${process.pid}-${Date.now()}`;
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
        const value = JSON.stringify({ task: 'research', query: 'otters and their tools', step: 0, padding: 'x'.repeat(40) });
        const c0 = cpuMicros();
        for (let b = 0; b * batchSize < messages; b++) {
          const batch = Array.from({ length: Math.min(batchSize, messages - b * batchSize) }, (_, i) => ({ key: String(i % 16), value }));
          await sessions.run(b, () => send({ topic, messages: batch }));
        }
        const produce = (cpuMicros() - c0) / messages;
        sessions.end();
        const eachMessage = await consume(topic, messages, 'eachMessage');
        const eachBatch = await consume(topic, messages, 'eachBatch');
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        return { produce, eachMessage, eachBatch };
      },
      async heap() {
        return { heapBytes: await settledHeap(async () => tracing?.flush()), items: handled };
      },
      async stats() {
        await tracing?.flush();
        return { exported: tracing?.exported() ?? 0 };
      },
    },
    { processor: tracing?.processor ?? 'none', pid: process.pid },
    async () => {
      await producer.disconnect();
      await admin.disconnect();
      await tracing?.shutdown();
    },
  );
}

main().catch(fatal);
