// The memory soak, in its own process with --expose-gc:
//   node --expose-gc --import tsx test/helpers/soak.ts <iterations> <sample every>
// Each iteration runs six hops through the adapters' real wrappers, the way their libraries
// drive them: an HTTP request through the Express middleware calling onward with sessionFetch,
// a Kafka message through eachMessage and one through eachBatch + withMessageContext, each
// producing onward, and a BullMQ job through BullMQ's own trace helper adding a job onward. A
// session is started every ten iterations and ended after. The heap is sampled after a full GC.
// Prints one JSON line `{"soak": {...}}`.

import { context, propagation, trace } from '@opentelemetry/api';
import { trace as bullmqTrace, SpanKind as BullMQSpanKind } from 'bullmq';
import type { Consumer, EachBatchPayload, EachMessagePayload, KafkaMessage, Producer } from 'kafkajs';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import {
  instrumentConsumer,
  instrumentProducer,
  type InstrumentedConsumerRunConfig,
  type InstrumentedEachBatchPayload,
} from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { sharedState } from '../../src/base/state.js';
import { heapAfterGc } from './heap.js';
import { setupAuditedTracing } from './span-audit.js';

/** What the soak reports. */
export interface SoakResult {
  iterations: number;
  hops: number;
  /** [hops done, heap bytes after GC] */
  samples: [number, number][];
  spansStarted: number;
  spansEnded: number;
  spanProblems: string[];
  sessionsRemembered: number;
  /** Hops whose handler did not run in the session it was sent in. */
  outOfSession: number;
  activeAfter: boolean;
}

const HOPS_PER_ITERATION = 6;

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 50_000);
  const every = Number(process.argv[3] ?? 2_500);
  const tracing = setupAuditedTracing();
  let outOfSession = 0;
  let expected: string | undefined;
  const check = () => {
    if (getSessionId() !== expected) outOfSession++;
  };

  // Kafka: onward producer and instrumented consumer, driven with kafkajs' payloads.
  let lastRecord: { messages: { headers?: Record<string, unknown> }[] } | undefined;
  const producer = instrumentProducer({
    send: async (r: typeof lastRecord) => ((lastRecord = r), []),
    sendBatch: async () => [],
  } as unknown as Producer);
  const configs: InstrumentedConsumerRunConfig[] = [];
  const consumer = instrumentConsumer({ run: async (c: InstrumentedConsumerRunConfig) => void configs.push(c) } as unknown as Consumer);
  const onward = async () => {
    check();
    await producer.send({ topic: 'onward', messages: [{ value: 'v' }] });
  };
  await consumer.run({ eachMessage: onward });
  await consumer.run({
    eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
      for (const m of batch.messages) await withMessageContext(m, onward);
    },
  });
  const eachMessage = configs[0]!.eachMessage!;
  const eachBatch = configs[1]!.eachBatch as unknown as (p: EachBatchPayload) => Promise<void>;

  // BullMQ: BullMQ's own trace helper, as its Queue and Worker call it.
  const telemetry = sessionTelemetry();
  let metadata: string | undefined;

  // HTTP: the Express middleware, the handler calling onward through sessionFetch.
  const middleware = sessionMiddleware({ trust: 'trust' });
  const fetchOnward = sessionFetch(async () => new Response('ok'));

  let session: Session | undefined;
  const samples: [number, number][] = [];
  const noop = async () => undefined;
  for (let i = 0; i < iterations; i++) {
    if (i % 10 === 0) {
      session?.end();
      session = startSession({ name: 'soak' });
    }
    const s = session!;
    expected = s.id;

    // Outbound from the session: the fields every inbound hop below receives.
    await withSession(s, () => producer.send({ topic: 'in', messages: [{ value: String(i) }] }));
    const headers = lastRecord!.messages[0]!.headers as Record<string, string>;
    const message = {
      key: null,
      value: Buffer.from(String(i)),
      headers: { ...headers },
      offset: String(i),
      timestamp: '0',
      attributes: 0,
      size: 0,
    } as unknown as KafkaMessage;
    await eachMessage({ topic: 'in', partition: 0, message, heartbeat: noop, pause: () => () => undefined } as EachMessagePayload);
    const batch = { topic: 'in', partition: 0, highWatermark: '0', messages: [{ ...message }] } as unknown as EachBatchPayload['batch'];
    await eachBatch({
      batch,
      resolveOffset: () => undefined,
      heartbeat: noop,
      commitOffsetsIfNecessary: noop,
      uncommittedOffsets: () => ({ topics: [] }),
      isRunning: () => true,
      isStale: () => false,
      pause: () => () => undefined,
    } as unknown as EachBatchPayload);

    metadata = await withSession(s, () => bullmqTrace(telemetry, BullMQSpanKind.PRODUCER, 'q', 'add', 'q.job', async (_span, dst) => dst));
    await bullmqTrace(
      telemetry,
      BullMQSpanKind.CONSUMER,
      'q',
      'process',
      'q',
      async (span) => {
        span?.setAttributes({ 'bullmq.job.id': String(i), 'bullmq.job.name': 'job' });
        check();
        await bullmqTrace(telemetry, BullMQSpanKind.PRODUCER, 'q2', 'add', 'q2.job', async (_span, dst) => dst);
      },
      metadata,
    );

    const req = new IncomingMessage(new Socket());
    req.method = 'POST';
    req.url = '/run';
    req.headers = { host: 'svc', ...headers };
    const res = new ServerResponse(req);
    await new Promise<void>((resolve, reject) => {
      middleware(req, res, () => {
        check();
        fetchOnward('http://10.0.0.1/next').then(() => resolve(), reject);
      });
    });
    res.emit('finish');

    if ((i + 1) % every === 0) samples.push([(i + 1) * HOPS_PER_ITERATION, heapAfterGc()]);
  }
  session?.end();
  const result: SoakResult = {
    iterations,
    hops: iterations * HOPS_PER_ITERATION,
    samples,
    spansStarted: tracing.audit.started,
    spansEnded: tracing.audit.ended,
    spanProblems: tracing.audit.problems,
    sessionsRemembered: sharedState().sessions.size,
    outOfSession,
    activeAfter: trace.getActiveSpan() !== undefined || propagation.getBaggage(context.active()) !== undefined,
  };
  await tracing.shutdown();
  process.stdout.write(`${JSON.stringify({ soak: result })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
