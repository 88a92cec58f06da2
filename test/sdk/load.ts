// Sustained load through the real transports for the export-queue tests: a Kafka topic filled
// with N messages by an instrumented producer and drained by an instrumented consumer
// (eachMessage, or eachBatch with withMessageContext per message), and HTTP requests to an
// Express service. The exporters are counting stand-ins that answer at once or after 50 ms.

import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import type { Kafka } from 'kafkajs';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { instrumentConsumer, instrumentProducer, withMessageContext } from '../../adapters/kafkajs/index.js';
import { startSession, withAgent, withSession } from '../../src/index.js';
import { inParallel } from '../helpers/child.js';
import { postLines } from '../helpers/header-lines.js';
import { createTopics, fastConsumerConfig, waitFor } from '../kafka/helpers.js';

/** A SpanExporter that counts what it got, answering synchronously or after `delayMs`. */
export interface CountingExporter extends SpanExporter {
  readonly spans: number;
  readonly byName: Map<string, number>;
  /** Offsets of the per-message CONSUMER spans (`messaging.kafka.offset`, absent on batch spans). */
  readonly consumedOffsets: Set<number>;
  readonly calls: number;
}

export function countingExporter(delayMs = 0): CountingExporter {
  const byName = new Map<string, number>();
  const consumedOffsets = new Set<number>();
  let spans = 0;
  let calls = 0;
  return {
    get spans() {
      return spans;
    },
    get calls() {
      return calls;
    },
    byName,
    consumedOffsets,
    export(batch: ReadableSpan[], done: (result: ExportResult) => void) {
      calls++;
      for (const span of batch) {
        byName.set(span.name, (byName.get(span.name) ?? 0) + 1);
        const offset = span.attributes['messaging.kafka.offset'];
        if (span.kind === SpanKind.CONSUMER && typeof offset === 'number') consumedOffsets.add(offset);
      }
      spans += batch.length;
      if (delayMs === 0) done({ code: ExportResultCode.SUCCESS });
      else setTimeout(() => done({ code: ExportResultCode.SUCCESS }), delayMs);
    },
    shutdown: async () => undefined,
  };
}

/** How the consumer takes the messages. */
export type ConsumeMode = 'eachMessage' | 'eachBatch';

/**
 * Produces `count` messages in one session (instrumented producer, 500 per send) and consumes
 * them with a no-op handler; resolves once every message was handled. Returns the topic.
 */
export async function kafkaLoad(kafka: Kafka, count: number, mode: ConsumeMode): Promise<string> {
  const [topic] = (await createTopics(kafka)) as [string];
  const producer = instrumentProducer(kafka.producer());
  await producer.connect();
  const session = startSession({ name: 'load' });
  for (let i = 0; i < count; i += 500) {
    const n = Math.min(500, count - i);
    await withSession(session, () => producer.send({ topic, messages: Array.from({ length: n }, (_, j) => ({ value: String(i + j) })) }));
  }
  await producer.disconnect();
  session.end();

  const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
  let handled = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  if (mode === 'eachMessage') {
    await consumer.run({ eachMessage: async () => void handled++ });
  } else {
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const message of batch.messages) {
          await withMessageContext(message, async () => void handled++);
          resolveOffset(message.offset);
        }
      },
    });
  }
  try {
    await waitFor(`${count} messages (${mode})`, () => handled >= count, 180_000);
  } finally {
    await consumer.disconnect();
  }
  return topic;
}

/** Spans per HTTP request: the SERVER span and the handler's agent span. */
export const SPANS_PER_REQUEST = 2;

/** Sends `count` requests, 16 at a time, to an Express service with the session middleware. */
export async function httpLoad(count: number): Promise<void> {
  const app = express();
  app.use(sessionMiddleware());
  app.post('/work', async (_req, res) => {
    await withAgent('handler', async () => undefined);
    res.json({ ok: true });
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const session = startSession({ name: 'http-load' });
  const traceparent = `00-${session.id}-${session.rootSpanId}-01`;
  try {
    await inParallel(
      Array.from({ length: count }, () => async () => {
        const res = await postLines(port, '/work', [['traceparent', traceparent]], '', agent);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      }),
      16,
    );
  } finally {
    session.end();
    agent.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
