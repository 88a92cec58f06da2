/**
 * A session over HTTP and Kafka in a NodeSDK application: a client call in a session reaches an
 * Express service (instrumentation-http and express are on too), which sends a Kafka message
 * that a consumer handles (instrumentation-kafkajs is on too). The session's spans go to
 * AgentOps and to your collector; the last line printed is a JSON summary.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 AGENTOPS_API_KEY=... npx tsx examples/otel-setup/main.ts
 */
import { otel, sdk } from './tracing.js';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { getSessionId, startSession, withSession } from 'agentops-propagation';
import { sessionMiddleware } from 'agentops-propagation/express';
import { sessionFetch } from 'agentops-propagation/http';
import { instrumentConsumer, instrumentProducer } from 'agentops-propagation/kafkajs';

// The auto-instrumentations patch modules as they are required; an ES module `import` of a
// CommonJS package is not seen without `--import @opentelemetry/instrumentation/hook.mjs`, so
// this ES module requires them, after tracing.ts started the SDK.
const require = createRequire(import.meta.url);
const express = require('express') as typeof import('express');
const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');

const topic = `otel-setup-${process.pid}-${Date.now()}`;
const kafka = new Kafka({
  clientId: 'otel-setup',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  logLevel: logLevel.ERROR,
});
const producer = instrumentProducer(kafka.producer());
const consumer = instrumentConsumer(kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100 }));

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
await admin.disconnect();
await producer.connect();

const app = express();
app.use(sessionMiddleware());
app.post('/research', async (_req, res) => {
  await producer.send({ topic, messages: [{ value: 'find sources' }] });
  res.json({ session: getSessionId() });
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const port = (server.address() as AddressInfo).port;

let consumed: { session: string | undefined } | undefined;
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({ eachMessage: async () => void (consumed = { session: getSessionId() }) });

const session = startSession({ name: 'otel-setup' });
const fetchInSession = sessionFetch();
const answer = await withSession(session, async () =>
  (await fetchInSession(`http://127.0.0.1:${port}/research`, { method: 'POST' })).json(),
);
for (let i = 0; i < 600 && consumed === undefined; i++) await new Promise((r) => setTimeout(r, 50));
session.end('Success');

await consumer.disconnect();
await producer.disconnect();
server.close();
await otel.shutdown();
await sdk.shutdown();
console.log(JSON.stringify({ session: session.id, topic, server: answer, consumer: consumed ?? null }));
