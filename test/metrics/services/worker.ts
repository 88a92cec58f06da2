// Service B of test/metrics/two-services.test.ts: the gateway's HTTP call, a Kafka consumer and a
// BullMQ worker, each running an agent with an LLM call inside the gateway's session.

import { Worker } from 'bullmq';
import express from 'express';
import { Kafka, logLevel } from 'kafkajs';
import { sessionMiddleware } from '../../../adapters/express/index.js';
import { instrumentConsumer } from '../../../adapters/kafkajs/index.js';
import { sessionTelemetry, withJobContext } from '../../../adapters/bullmq/index.js';
import { init, withAgent, withTool } from '../../../src/index.js';
import { llm, required, SERVICE_PRICES, stopOnSignal, ToolFailure } from './shared.js';

const telemetry = init({ serviceName: 'worker', metrics: { prices: SERVICE_PRICES } });

const app = express();
app.use(sessionMiddleware());
app.post('/work', async (_req, res) => {
  await withAgent('researcher', async () => {
    await llm('gpt-4o-mini', 'openai', { promptTokens: 3000, completionTokens: 500 });
    await withTool('search', async () => 'found');
    await withTool('search', async () => {
      throw new ToolFailure('index offline');
    }).catch(() => undefined);
  });
  res.json({ ok: true });
});

const kafka = new Kafka({ clientId: 'metrics-worker', brokers: required('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING });
const consumer = instrumentConsumer(kafka.consumer({ groupId: `${required('TOPIC')}-group`, maxWaitTimeInMs: 100 }));
let joined = false;
consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
await consumer.connect();
await consumer.subscribe({ topics: [required('TOPIC')], fromBeginning: true });
await consumer.run({
  eachMessage: async () => {
    await withAgent('summarizer', () => llm('gpt-4o', 'openai', { promptTokens: 400, completionTokens: 100 }));
    process.stdout.write('DONE kafka\n');
  },
});

const redis = new URL(required('REDIS_URL'));
const worker = new Worker(
  required('QUEUE'),
  withJobContext(async () => {
    await withAgent('writer', () => llm('local-llama', 'ollama', { promptTokens: 64, completionTokens: 16 }));
    process.stdout.write('DONE bullmq\n');
  }),
  { connection: { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null }, telemetry: sessionTelemetry() },
);
await worker.waitUntilReady();

const server = app.listen(Number(required('PORT')), '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
while (!joined) await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write('READY worker\n');
stopOnSignal(telemetry, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await consumer.disconnect();
  await worker.close();
});
