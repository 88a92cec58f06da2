// Service A of test/metrics/two-services.test.ts: POST /run starts a session, calls an LLM, calls
// the worker over HTTP, then hands it a Kafka message and a BullMQ job, all inside the session.

import { Queue } from 'bullmq';
import express from 'express';
import { Kafka, logLevel } from 'kafkajs';
import { sessionMiddleware } from '../../../adapters/express/index.js';
import { sessionFetch } from '../../../adapters/http/index.js';
import { instrumentProducer } from '../../../adapters/kafkajs/index.js';
import { sessionTelemetry } from '../../../adapters/bullmq/index.js';
import { init, startSession, withAgent, withSession } from '../../../src/index.js';
import { llm, required, SERVICE_PRICES, stopOnSignal } from './shared.js';

const telemetry = init({ serviceName: 'gateway', metrics: { prices: SERVICE_PRICES } });
const kafka = new Kafka({ clientId: 'metrics-gateway', brokers: required('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING });
const producer = instrumentProducer(kafka.producer());
const redis = new URL(required('REDIS_URL'));
const queue = new Queue(required('QUEUE'), {
  connection: { host: redis.hostname, port: Number(redis.port || 6379) },
  telemetry: sessionTelemetry(),
});
const callWorker = sessionFetch();

const app = express();
app.use(sessionMiddleware());
app.post('/run', async (_req, res, next) => {
  try {
    const session = startSession({ name: 'research' });
    await withSession(session, () =>
      withAgent('gateway', async () => {
        await llm('gpt-4o', 'openai', {
          promptTokens: 1000,
          completionTokens: 250,
          cachedPromptTokens: 200,
          responseModel: 'gpt-4o-2024-08-06',
        });
        const answer = await callWorker(`${required('WORKER_URL')}/work`, { method: 'POST' });
        if (!answer.ok) throw new Error(`worker answered ${answer.status}`);
        await producer.send({ topic: required('TOPIC'), messages: [{ value: 'summarize' }] });
        await queue.add('write', { what: 'report' });
      }),
    );
    session.end('Success');
    res.json({ sessionId: session.id });
  } catch (err) {
    next(err);
  }
});

await producer.connect();
const server = app.listen(Number(required('PORT')), '127.0.0.1', () => process.stdout.write('READY gateway\n'));
stopOnSignal(telemetry, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await producer.disconnect();
  await queue.close();
});
