// Exporter down: the OTLP endpoint refuses connections, or accepts them and never answers. With
// the library's own `init()` (bounded export queue), HTTP requests, Kafka messages and BullMQ jobs
// keep flowing, user code sees no error, the queue stays within its bound and `stats()` counts
// every span it had to give up.

import { Queue, Worker } from 'bullmq';
import express from 'express';
import type { Kafka } from 'kafkajs';
import { createServer, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { instrumentConsumer, instrumentProducer } from '../../adapters/kafkajs/index.js';
import { getSessionId, init, startSession, withAgent, withSession, withTool, type InitHandle } from '../../src/index.js';
import { connection, uniqueQueueName, waitFor } from '../bullmq/helpers.js';
import { inParallel } from '../helpers/child.js';
import { postLines } from '../helpers/header-lines.js';
import { heapAfterGc } from '../helpers/heap.js';
import { refusingCollector, silentCollector } from '../helpers/dead-collector.js';
import { report } from '../helpers/report.js';
import { createTopics, fastConsumerConfig, kafkaClient } from '../kafka/helpers.js';

const REQUESTS = 3000;
/** Spans each request makes: the SERVER span and nine of the handler's own. */
const SPANS_PER_REQUEST = 10;
const MESSAGES = 1000;
const JOBS = 500;
const MAX_QUEUE = 256;

/** Errors that escaped to the process while the run lasted: there must be none. */
const escaped: unknown[] = [];
const onEscape = (err: unknown) => void escaped.push(err);
beforeEach(() => {
  escaped.length = 0;
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
});
afterEach(() => {
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

/** Sends HTTP requests, Kafka messages and BullMQ jobs through instrumented services; resolves with what the user code saw. */
async function traffic(
  kafka: Kafka,
  sample: () => void,
): Promise<{ answered: number; handledMessages: number; completedJobs: number; userErrors: unknown[] }> {
  const userErrors: unknown[] = [];
  const session = startSession({ name: 'exporter-down' });

  // HTTP: Express with nine spans of the handler's own per request.
  const app = express();
  app.use(sessionMiddleware());
  app.post('/work', async (_req, res) => {
    try {
      await withAgent('agent', async () => {
        for (let i = 0; i < 4; i++) await withTool(`tool-${i}`, async () => withAgent(`sub-${i}`, async () => undefined));
      });
      res.json({ session: getSessionId() });
    } catch (err) {
      userErrors.push(err);
      res.status(500).end();
    }
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let answered = 0;
  const headers = withSession(session, () => ({ traceparent: `00-${session.id}-${session.rootSpanId}-01` }));
  await inParallel(
    Array.from({ length: REQUESTS }, (_, i) => async () => {
      const res = await postLines(port, '/work', [['traceparent', headers.traceparent]], '', agent);
      if (res.status === 200) answered++;
      if (i % 100 === 0) sample();
    }),
    8,
  );
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));

  // Kafka: an instrumented producer and eachMessage consumer.
  const [topic] = (await createTopics(kafka)) as [string];
  const producer = instrumentProducer(kafka.producer());
  const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
  let handledMessages = 0;
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async () => void handledMessages++ });
  for (let i = 0; i < MESSAGES; i += 50) {
    await withSession(session, () =>
      Promise.all(Array.from({ length: 50 }, (_, j) => producer.send({ topic, messages: [{ value: String(i + j) }] }))),
    );
    sample();
  }
  await waitFor(`${MESSAGES} messages`, () => handledMessages >= MESSAGES, 120_000);
  await consumer.disconnect();
  await producer.disconnect();

  // BullMQ: a Queue and a Worker with sessionTelemetry.
  const name = uniqueQueueName('exporter-down');
  const telemetry = sessionTelemetry();
  const queue = new Queue(name, { connection: connection(), telemetry });
  let completedJobs = 0;
  const worker = new Worker(name, async () => void completedJobs++, { connection: connection(), telemetry, concurrency: 20 });
  worker.on('error', (err) => void userErrors.push(err));
  for (let i = 0; i < JOBS; i += 50) {
    await withSession(session, () =>
      queue.addBulk(Array.from({ length: 50 }, (_, j) => ({ name: 'job', data: { n: i + j }, opts: { removeOnComplete: true } }))),
    );
    sample();
  }
  await waitFor(`${JOBS} jobs`, () => completedJobs >= JOBS, 120_000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  session.end();
  return { answered, handledMessages, completedJobs, userErrors };
}

describe('the OTLP endpoint is down: work goes on, memory stays bounded, the drops are counted', () => {
  it.each([
    ['refuses connections', refusingCollector],
    ['accepts and never answers', silentCollector],
  ] as const)('%s', async (what, endpoint) => {
    const down = await endpoint();
    const kafka = kafkaClient();
    const heapBefore = heapAfterGc();
    let handle: InitHandle | undefined = init({
      serviceName: 'exporter-down',
      otlpEndpoint: down.url,
      exportQueue: { maxQueueSize: MAX_QUEUE, maxExportBatchSize: 64, scheduledDelayMillis: 50, exportTimeoutMillis: 300 },
    });
    let maxQueued = 0;
    const sample = () => {
      maxQueued = Math.max(maxQueued, handle!.stats().spansQueued);
    };
    try {
      const seen = await traffic(kafka, sample);
      expect(seen.userErrors).toEqual([]);
      expect(seen.answered).toBe(REQUESTS);
      expect(seen.handledMessages).toBe(MESSAGES);
      expect(seen.completedJobs).toBe(JOBS);
      const heapGrowth = heapAfterGc() - heapBefore;

      await handle.shutdown();
      const stats = handle.stats();
      handle = undefined;
      expect(escaped).toEqual([]);
      expect(stats.spansExported).toBe(0);
      expect(stats.spansQueued).toBe(0);
      // Everything the traffic made was dropped and counted: at least one span per request
      // handler step, per message sent and processed, per job added and processed.
      const atLeast = REQUESTS * SPANS_PER_REQUEST + MESSAGES * 2 + JOBS * 2;
      expect(stats.spansDropped).toBeGreaterThanOrEqual(atLeast);
      // Waiting spans stay under the queue's bound; with the exports in flight (up to 16 batches of
      // 64 here) the documented memory bound is maxQueueSize + maxConcurrentExports x batch size.
      expect(maxQueued).toBeLessThanOrEqual(MAX_QUEUE + 16 * 64);
      // Tens of thousands of spans went through a 256-span queue: the heap did not keep them.
      expect(heapGrowth).toBeLessThan(32 * 1024 * 1024);
      if (what === 'accepts and never answers') expect(down.connections()).toBeGreaterThan(0);
      report(`exporter down: ${what}`, {
        requests: REQUESTS,
        messages: MESSAGES,
        jobs: JOBS,
        spansDropped: stats.spansDropped,
        spansExported: stats.spansExported,
        maxQueued,
        queueBound: MAX_QUEUE,
        heapGrowthMB: +(heapGrowth / 2 ** 20).toFixed(1),
      });
    } finally {
      await handle?.shutdown();
      await down.close();
    }
  });
});
