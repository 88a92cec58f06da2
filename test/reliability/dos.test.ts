// Denial of service: oversized baggage and tracestate (tens of KB, thousands of members, thousands
// of repeated headers; Kafka headers and BullMQ metadata up to 1 MB) reach the parser over the
// real transports, and the work of each hop stays under fixed caps, read from the shared work
// counters (never from timings); the service keeps answering, and keeps joining sessions.

import type { Job } from 'bullmq';
import express from 'express';
import Fastify from 'fastify';
import type { EachMessagePayload, IHeaders, Kafka } from 'kafkajs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { injectSessionHeaders } from '../../adapters/http/index.js';
import { instrumentConsumer, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { startOutboundHop } from '../../src/engine.js';
import { DEFAULT_LIMITS } from '../../src/propagation/limits.js';
import { sharedState } from '../../src/base/state.js';
import { BullMQResources, captureDiag, uniqueQueueName, waitFor as waitForJobs, type DiagCapture } from '../bullmq/helpers.js';
import { postLines } from '../helpers/header-lines.js';
import { setupTracing, type TestTracing } from '../helpers/otel.js';
import { report } from '../helpers/report.js';
import { outboundProblems, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS } from '../helpers/w3c-oracle.js';
import { consumeUntil, createTopics, fastConsumerConfig, kafkaClient, withProducer } from '../kafka/helpers.js';

type Counters = ReturnType<typeof sharedState>['counters'];
type Work = Pick<Counters, 'baggageBytesExamined' | 'baggageMembersExamined' | 'tracestateBytesExamined'>;

/** The caps one extract may never exceed, whatever the input. */
const CAP: Work = {
  baggageBytesExamined: DEFAULT_LIMITS.maxScanBytes,
  baggageMembersExamined: DEFAULT_LIMITS.maxScanMembers,
  tracestateBytesExamined: DEFAULT_LIMITS.maxTracestateScanBytes,
};

function work(): Work {
  const c = sharedState().counters;
  return {
    baggageBytesExamined: c.baggageBytesExamined,
    baggageMembersExamined: c.baggageMembersExamined,
    tracestateBytesExamined: c.tracestateBytesExamined,
  };
}

function since(before: Work, after: Work = work()): Work {
  return {
    baggageBytesExamined: after.baggageBytesExamined - before.baggageBytesExamined,
    baggageMembersExamined: after.baggageMembersExamined - before.baggageMembersExamined,
    tracestateBytesExamined: after.tracestateBytesExamined - before.tracestateBytesExamined,
  };
}

function expectCapped(delta: Work, hops = 1, what = ''): void {
  expect(delta.baggageBytesExamined, `${what}: baggage bytes examined`).toBeLessThanOrEqual(hops * CAP.baggageBytesExamined);
  expect(delta.baggageMembersExamined, `${what}: baggage members examined`).toBeLessThanOrEqual(hops * CAP.baggageMembersExamined);
  expect(delta.tracestateBytesExamined, `${what}: tracestate bytes examined`).toBeLessThanOrEqual(hops * CAP.tracestateBytesExamined);
}

let t: TestTracing;
let kafka: Kafka;
let session: Session;
/** The headers a legitimate upstream service in `session` sends. */
let upstream: Record<string, string>;
let diagLog: DiagCapture;
const bull = new BullMQResources();
const figures: Record<string, unknown> = {};

beforeAll(() => {
  t = setupTracing();
  kafka = kafkaClient();
  session = startSession({ name: 'dos' });
  upstream = withSession(session, () => {
    const hop = startOutboundHop({ spanName: 'upstream', signing: null });
    const fields = hop.fields();
    hop.end();
    return fields;
  });
  diagLog = captureDiag();
});
afterEach(() => bull.close());
afterAll(async () => {
  diagLog.stop();
  session.end();
  report('denial of service', figures);
  await t.shutdown();
});

const many = (n: number, member: (i: number) => string, sep = ','): string => Array.from({ length: n }, (_, i) => member(i)).join(sep);

/**
 * Hostile inputs: each keeps the legitimate traceparent and session entry where the attack is
 * elsewhere, so the test also shows that a session survives next to the flood.
 */
function hostileHttpCases(): { name: string; lines: [string, string][]; joins: boolean }[] {
  const tp = upstream.traceparent!;
  const bag = upstream.baggage!;
  return [
    {
      name: 'baggage: 60 KB, 5,000 members',
      lines: [
        ['traceparent', tp],
        ['baggage', `${bag},${many(5000, (i) => `k${i}=v${i}`)}`],
      ],
      joins: true,
    },
    {
      name: 'baggage: one 500 KB member',
      lines: [
        ['traceparent', tp],
        ['baggage', `${bag},big=${'v'.repeat(500_000)}`],
      ],
      joins: true,
    },
    {
      name: 'baggage: 4,000 repeated header lines',
      lines: [
        ['traceparent', tp],
        ['baggage', bag],
        ...Array.from({ length: 4000 }, (_, i): [string, string] => ['baggage', `k${i}=${'v'.repeat(16)}`]),
      ],
      joins: true,
    },
    {
      name: 'tracestate: 40 KB, 2,000 members',
      lines: [
        ['traceparent', tp],
        ['tracestate', many(2000, (i) => `k${i}=${'v'.repeat(12)}`)],
        ['baggage', bag],
      ],
      joins: true,
    },
    {
      name: 'tracestate: 3,000 repeated header lines',
      lines: [
        ['traceparent', tp],
        ...Array.from({ length: 3000 }, (_, i): [string, string] => ['tracestate', `k${i}=v`]),
        ['baggage', bag],
      ],
      joins: true,
    },
    {
      name: 'traceparent: 100 KB',
      lines: [
        ['traceparent', `${tp}-${'f'.repeat(100_000)}`],
        ['baggage', bag],
      ],
      joins: true,
    },
    {
      name: 'all of it at once, 1.2 MB of headers',
      lines: [
        ['traceparent', tp],
        ['tracestate', `rojo=1,${'x'.repeat(200_000)}`],
        ['baggage', `${bag},${'k=v,'.repeat(100_000)}`],
        ...Array.from({ length: 2000 }, (_, i): [string, string] => ['baggage', `r${i}=${'w'.repeat(100)}`]),
      ],
      joins: true,
    },
  ];
}

interface Answer {
  session: string | undefined;
  onward: Record<string, string>;
}

function onwardFromHandler(): Answer {
  return { session: getSessionId(), onward: injectSessionHeaders({}, 'http://10.0.0.7:8080/next') };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('HTTP: oversized headers reach the parser (maxHeaderSize 4 MiB) and cost a capped amount of work per request', () => {
  it.each(['express', 'fastify'] as const)('%s', async (framework) => {
    let port: number;
    let close: () => Promise<void>;
    if (framework === 'express') {
      const app = express();
      app.use(sessionMiddleware());
      app.post('/run', (_req, res) => void res.json(onwardFromHandler()));
      const server = createServer({ maxHeaderSize: 4 * 1024 * 1024 }, app);
      server.maxHeadersCount = 10_000;
      port = await listen(server);
      close = () => new Promise((resolve) => server.close(() => resolve()));
    } else {
      const app = Fastify({ serverFactory: (handler) => createServer({ maxHeaderSize: 4 * 1024 * 1024 }, handler) });
      await app.register(sessionPlugin);
      app.post('/run', async () => onwardFromHandler());
      await app.listen({ port: 0, host: '127.0.0.1' });
      app.server.maxHeadersCount = 10_000;
      port = (app.server.address() as AddressInfo).port;
      close = () => app.close();
    }
    try {
      const seen: Record<string, Work> = {};
      for (const c of hostileHttpCases()) {
        const before = work();
        const res = await postLines(port, '/run', c.lines);
        const delta = since(before);
        expect(res.status, c.name).toBe(200);
        expectCapped(delta, 1, c.name);
        const body = JSON.parse(res.body) as Answer;
        if (c.joins) expect(body.session, c.name).toBe(session.id);
        // What goes onward is a normal, capped header set, whatever came in.
        expect(outboundProblems(body.onward), c.name).toEqual([]);
        expect(Buffer.byteLength(body.onward.baggage ?? '')).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
        expect((body.onward.baggage ?? '').split(',').length).toBeLessThanOrEqual(MAX_BAGGAGE_MEMBERS);
        seen[c.name] = delta;
      }
      // The floods did reach the parser, and stopped at the caps.
      expect(seen['baggage: 60 KB, 5,000 members']!.baggageMembersExamined).toBe(CAP.baggageMembersExamined);
      expect(seen['baggage: one 500 KB member']!.baggageBytesExamined).toBe(CAP.baggageBytesExamined);
      expect(seen['baggage: 4,000 repeated header lines']!.baggageMembersExamined).toBe(CAP.baggageMembersExamined);
      expect(seen['tracestate: 40 KB, 2,000 members']!.tracestateBytesExamined).toBe(0); // discarded unread: over the scan cap
      expect(diagLog.matching('tracestate discarded').length).toBeGreaterThanOrEqual(2);
      // Still answering, still joining sessions.
      const normal = await postLines(port, '/run', [
        ['traceparent', upstream.traceparent!],
        ['baggage', upstream.baggage!],
      ]);
      expect(normal.status).toBe(200);
      expect((JSON.parse(normal.body) as Answer).session).toBe(session.id);
      figures[`http ${framework}`] = { requests: hostileHttpCases().length + 1, maxWork: maxOf(Object.values(seen)) };
    } finally {
      await close();
    }
  });
});

function maxOf(deltas: Work[]): Work {
  return {
    baggageBytesExamined: Math.max(...deltas.map((d) => d.baggageBytesExamined)),
    baggageMembersExamined: Math.max(...deltas.map((d) => d.baggageMembersExamined)),
    tracestateBytesExamined: Math.max(...deltas.map((d) => d.tracestateBytesExamined)),
  };
}

const MB = 1_000_000;

function hostileKafkaMessages(): { name: string; headers: IHeaders }[] {
  const tp = upstream.traceparent!;
  const bag = upstream.baggage!;
  return [
    { name: 'baggage: 1 MB', headers: { traceparent: tp, baggage: Buffer.from(`${bag},big=${'v'.repeat(MB - bag.length - 10)}`) } },
    {
      name: 'baggage: 5,000 repeated keys, 500 KB',
      headers: {
        traceparent: tp,
        baggage: [Buffer.from(bag), ...Array.from({ length: 5000 }, (_, i) => Buffer.from(`k${i}=${'v'.repeat(90)}`))],
      },
    },
    { name: 'baggage: 60 KB, 5,000 members', headers: { traceparent: tp, baggage: `${bag},${many(5000, (i) => `k${i}=v${i}`)}` } },
    {
      name: 'tracestate: 500 KB',
      headers: { traceparent: tp, tracestate: Buffer.from(many(25_000, (i) => `k${i}=${'v'.repeat(12)}`)), baggage: bag },
    },
    { name: 'traceparent: 500 KB', headers: { traceparent: Buffer.from(`${tp}-${'f'.repeat(500_000)}`), baggage: bag } },
    { name: 'normal', headers: { traceparent: tp, baggage: bag } },
  ];
}

describe('Kafka: headers up to 1 MB cost a capped amount of work per message', () => {
  it('eachMessage: per message; eachBatch: per batch, per message in it; every message is processed in its session', async () => {
    const [topic] = (await createTopics(kafka)) as [string];
    const messages = hostileKafkaMessages();
    // One request each: a broker takes about 1 MB per request (message.max.bytes).
    await withProducer(kafka.producer(), async (p) => {
      for (const [i, m] of messages.entries()) await p.send({ topic, messages: [{ value: String(i), headers: m.headers }] });
    });

    // eachMessage, one message at a time: the work between two handler runs is one message's hop.
    const perMessage: Work[] = [];
    const sessions: (string | undefined)[] = [];
    let mark = work();
    const consumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await consumeUntil(
      consumer,
      [topic],
      {
        eachMessage: async (_payload: EachMessagePayload) => {
          perMessage.push(since(mark));
          sessions.push(getSessionId());
          mark = work();
        },
      },
      'every message',
      () => perMessage.length === messages.length,
    );
    perMessage.forEach((delta, i) => expectCapped(delta, 1, messages[i]!.name));
    expect(sessions).toEqual(messages.map(() => session.id));
    expect(perMessage[0]!.baggageBytesExamined).toBe(CAP.baggageBytesExamined);
    expect(perMessage[1]!.baggageMembersExamined).toBe(CAP.baggageMembersExamined);
    expect(perMessage[2]!.baggageMembersExamined).toBe(CAP.baggageMembersExamined);

    // eachBatch: the batch decides every message once, up front.
    let batchWork: Work | undefined;
    let batched = 0;
    const batchSessions: (string | undefined)[] = [];
    const batchConsumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    const start = work();
    await consumeUntil(
      batchConsumer,
      [topic],
      {
        eachBatch: async ({ batch, withMessageContext }: InstrumentedEachBatchPayload) => {
          batchWork ??= since(start);
          for (const m of batch.messages) await withMessageContext(m, async () => void batchSessions.push(getSessionId()));
          batched += batch.messages.length;
        },
      },
      'every message in batches',
      () => batched === messages.length,
    );
    expectCapped(since(start), messages.length, 'eachBatch');
    expect(batchSessions).toEqual(messages.map(() => session.id));
    figures.kafka = { messages: messages.length * 2, largestHeaderBytes: MB, maxWorkPerMessage: maxOf(perMessage) };
  });
});

describe('BullMQ: job metadata up to 1 MB is dropped unparsed or parsed under the caps', () => {
  it('per job: capped work; oversized metadata dropped with a diag log; the job runs, and later jobs join their sessions', async () => {
    const name = uniqueQueueName('dos');
    const tp = upstream.traceparent!;
    const bag = upstream.baggage!;
    const jobs: { name: string; metadata: unknown; joins: boolean }[] = [
      { name: 'JSON of 1 MB', metadata: JSON.stringify({ traceparent: tp, baggage: `${bag},big=${'v'.repeat(MB)}` }), joins: false },
      { name: 'not JSON, 1 MB', metadata: `{${'['.repeat(MB)}`, joins: false },
      { name: 'object holding 1 MB', metadata: { traceparent: tp, baggage: 'x'.repeat(MB) }, joins: false },
      {
        name: 'JSON of 15 KB: 1,500 baggage members',
        metadata: JSON.stringify({ traceparent: tp, baggage: `${bag},${many(1500, (i) => `k${i}=v`)}` }),
        joins: true,
      },
      {
        name: 'JSON of 15 KB: tracestate of 14 KB',
        metadata: JSON.stringify({ traceparent: tp, tracestate: `${'a'.repeat(14_000)}=v`, baggage: bag }),
        joins: true,
      },
      { name: 'normal', metadata: JSON.stringify({ traceparent: tp, baggage: bag }), joins: true },
    ];
    const raw = bull.queue(name);
    for (const [i, job] of jobs.entries()) await raw.add(job.name, { i }, { telemetry: { metadata: job.metadata as string } });

    const perJob: Work[] = [];
    const sessions: (string | undefined)[] = [];
    let mark = work();
    bull.worker(
      name,
      async (_job: Job) => {
        perJob.push(since(mark));
        sessions.push(getSessionId());
        mark = work();
      },
      { telemetry: sessionTelemetry(), concurrency: 1 },
    );
    await waitForJobs('every job', () => perJob.length === jobs.length, 60_000);
    perJob.forEach((delta, i) => expectCapped(delta, 1, jobs[i]!.name));
    expect(sessions).toEqual(jobs.map((j) => (j.joins ? session.id : undefined)));
    // Dropped before JSON.parse: no baggage was examined at all.
    expect(perJob.slice(0, 3).every((d) => d.baggageBytesExamined === 0)).toBe(true);
    expect(diagLog.matching('dropped unparsed')).toHaveLength(2);
    expect(diagLog.matching('job metadata of type object dropped')).toHaveLength(1);
    figures.bullmq = { jobs: jobs.length, largestMetadataBytes: MB, maxWorkPerJob: maxOf(perJob) };
  });
});
