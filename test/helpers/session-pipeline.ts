// The multi-hop pipeline of the concurrency tests, in one process so that every span is counted
// by the in-memory exporter, over the real transports:
//
//   client (sessionFetch) -> gateway (Express + sessionMiddleware)
//     -> Kafka topic A -> eachMessage consumer (instrumentConsumer)
//     -> Kafka topic B -> eachBatch consumer, withMessageContext per message
//     -> BullMQ queue (sessionTelemetry) -> Worker (sessionTelemetry)
//     -> sessionFetch -> callback service (Fastify + sessionPlugin)
//
// Every message carries the session id its sender was in; every stage records what
// `getSessionId()` and the active span say, so cross-talk shows as a mismatch at the stage
// where it happened.

import { context, trace, type Context } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Queue, Worker } from 'bullmq';
import express from 'express';
import Fastify from 'fastify';
import type { Kafka } from 'kafkajs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { sessionFetch } from '../../adapters/http/index.js';
import { instrumentConsumer, instrumentProducer, type InstrumentedEachBatchPayload } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { connection, uniqueQueueName } from '../bullmq/helpers.js';
import { createTopics, fastConsumerConfig, waitFor } from '../kafka/helpers.js';

/** The stages of the pipeline, in order. */
export const STAGES = ['gateway', 'eachMessage', 'eachBatch', 'worker', 'callback'] as const;
export type Stage = (typeof STAGES)[number];

/** What one stage saw for one unit of work. */
interface Observation {
  stage: Stage;
  /** The session the work was sent in (from the payload). */
  expected: string;
  /** `getSessionId()` at the stage. */
  session: string | undefined;
  /** Trace of the active span at the stage. */
  traceId: string | undefined;
}

/** Outcome of a pipeline run. */
export interface PipelineRun {
  sessions: Session[];
  /** Every observation, all stages. */
  observations: Observation[];
  /** Spans exported while the run lasted. */
  spans: ReadableSpan[];
  topics: { a: string; b: string };
  queueName: string;
}

interface Running {
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * Waits until no span has arrived for half a second: spans end as responses finish and jobs
 * settle, after the work itself is done.
 */
async function settled(spans: () => readonly unknown[], quietMs = 500, deadlineMs = 60_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last = spans().length;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = spans().length;
    if (now === last) return;
    if (Date.now() > until) throw new Error(`spans still arriving after ${deadlineMs} ms`);
    last = now;
  }
}

/** Options of {@link runSessionPipeline}. */
export interface PipelineOptions {
  kafka: Kafka;
  /** Sessions started and sent through at once. */
  sessions: number;
  /** The spans exported so far (the in-memory exporter's). */
  spans: () => ReadableSpan[];
  /** Partitions of each topic (eachBatch then sees batches of several sessions per partition). */
  partitions?: number;
}

/**
 * Starts `sessions` sessions at once, each sending one task through the whole pipeline, and
 * resolves when every task reached the callback service and the spans stopped arriving.
 */
export async function runSessionPipeline(options: PipelineOptions): Promise<PipelineRun> {
  const { kafka, sessions: count } = options;
  const [topicA, topicB] = (await createTopics(kafka, 2, options.partitions ?? 3)) as [string, string];
  const queueName = uniqueQueueName('pipeline');
  const observations: Observation[] = [];
  const observe = (stage: Stage, expected: string): void => {
    observations.push({ stage, expected, session: getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId });
  };
  const arrived = new Set<string>();
  const resources: Running[] = [];
  const fetchWithSession = sessionFetch();

  try {
    // Callback service: Fastify.
    const callback = Fastify();
    await callback.register(sessionPlugin);
    callback.post('/done', async (request) => {
      const { sid } = request.body as { sid: string };
      observe('callback', sid);
      arrived.add(sid);
      return { ok: true };
    });
    await callback.listen({ port: 0, host: '127.0.0.1' });
    resources.push({ close: () => callback.close() });
    const callbackUrl = `http://127.0.0.1:${(callback.server.address() as AddressInfo).port}`;

    // BullMQ worker: calls the callback service.
    const telemetry = sessionTelemetry();
    const worker = new Worker(
      queueName,
      async (job) => {
        const { sid } = job.data as { sid: string };
        observe('worker', sid);
        const response = await fetchWithSession(`${callbackUrl}/done`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ sid }),
        });
        if (!response.ok) throw new Error(`callback answered ${response.status}`);
        await response.arrayBuffer();
      },
      { connection: connection(), telemetry, concurrency: 50 },
    );
    worker.on('error', () => undefined);
    const queue = new Queue(queueName, { connection: connection(), telemetry });
    resources.push({
      close: async () => {
        await worker.close();
        await queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close();
      },
    });

    // eachBatch consumer of topic B: adds a job per message, in that message's session.
    const batchConsumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await batchConsumer.connect();
    resources.push({ close: () => batchConsumer.disconnect() });
    await batchConsumer.subscribe({ topics: [topicB], fromBeginning: true });
    await batchConsumer.run({
      partitionsConsumedConcurrently: options.partitions ?? 3,
      eachBatch: async ({ batch, withMessageContext, resolveOffset, heartbeat }: InstrumentedEachBatchPayload) => {
        for (const message of batch.messages) {
          await withMessageContext(message, async () => {
            const { sid } = JSON.parse(message.value!.toString('utf8')) as { sid: string };
            observe('eachBatch', sid);
            await queue.add('write', { sid });
          });
          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });

    // eachMessage consumer of topic A: forwards to topic B.
    const producer = instrumentProducer(kafka.producer());
    await producer.connect();
    resources.push({ close: () => producer.disconnect() });
    const messageConsumer = instrumentConsumer(kafka.consumer(fastConsumerConfig()));
    await messageConsumer.connect();
    resources.push({ close: () => messageConsumer.disconnect() });
    await messageConsumer.subscribe({ topics: [topicA], fromBeginning: true });
    await messageConsumer.run({
      partitionsConsumedConcurrently: options.partitions ?? 3,
      eachMessage: async ({ message }) => {
        const { sid } = JSON.parse(message.value!.toString('utf8')) as { sid: string };
        observe('eachMessage', sid);
        await producer.send({ topic: topicB, messages: [{ key: sid, value: JSON.stringify({ sid }) }] });
      },
    });

    // Gateway: Express.
    const app = express();
    app.use(sessionMiddleware());
    app.use(express.json());
    app.post('/tasks', async (req, res) => {
      const { sid } = req.body as { sid: string };
      observe('gateway', sid);
      await producer.send({ topic: topicA, messages: [{ key: sid, value: JSON.stringify({ sid }) }] });
      res.status(202).json({ accepted: sid });
    });
    const gatewayServer = createServer(app);
    const gatewayUrl = await listen(gatewayServer);
    resources.push({ close: () => closeServer(gatewayServer) });

    // The clients: every session at once.
    const sessions = Array.from({ length: count }, (_, i) => startSession({ name: `agent-${i}` }));
    const root: Context = context.active();
    const answers = await Promise.all(
      sessions.map((session) =>
        context.with(root, () =>
          withSession(session, async () => {
            const response = await fetchWithSession(`${gatewayUrl}/tasks`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ sid: session.id }),
            });
            return { status: response.status, body: (await response.json()) as { accepted: string } };
          }),
        ),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      if (answer.status !== 202 || answer.body.accepted !== sessions[i]!.id)
        throw new Error(`gateway answered ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    await waitFor(`${count} tasks at the callback`, () => arrived.size === count, 180_000);
    for (const session of sessions) session.end();
    await settled(options.spans);
    return { sessions, observations, spans: options.spans(), topics: { a: topicA, b: topicB }, queueName };
  } finally {
    for (const resource of resources.reverse()) await resource.close().catch(() => undefined);
  }
}

/** Problems of a run: stages that ran in the wrong session, and spans outside their session. */
export function pipelineProblems(run: PipelineRun): string[] {
  const problems: string[] = [];
  for (const o of run.observations) {
    if (o.session !== o.expected) problems.push(`${o.stage}: work of ${o.expected} ran in session ${String(o.session)}`);
    if (o.traceId !== o.expected) problems.push(`${o.stage}: work of ${o.expected} ran in trace ${String(o.traceId)}`);
  }
  const byId = new Map(run.spans.map((s) => [`${s.spanContext().traceId}-${s.spanContext().spanId}`, s]));
  const sessionIds = new Set(run.sessions.map((s) => s.id));
  for (const span of run.spans) {
    const { traceId } = span.spanContext();
    const claimed = span.attributes['session.id'];
    if (claimed !== undefined && claimed !== traceId) problems.push(`${span.name} claims session ${String(claimed)} in trace ${traceId}`);
    if (sessionIds.has(traceId) && claimed !== traceId)
      problems.push(`${span.name} in session trace ${traceId} without its session.id (${String(claimed)})`);
    const parent = span.parentSpanContext;
    if (parent !== undefined && !byId.has(`${parent.traceId}-${parent.spanId}`))
      problems.push(`${span.name} in ${traceId}: orphan, parent ${parent.spanId} was never exported`);
    if (parent !== undefined && parent.traceId !== traceId) problems.push(`${span.name}: parent in another trace`);
  }
  return problems.slice(0, 50);
}

/** One span a session's trace must hold, and the span it must be a child of. */
export interface ExpectedSpan {
  name: string;
  /** Name of the parent span; null for the session root. */
  parent: string | null;
}

/** The spans of one session's trace, each with its parent, in pipeline order. */
export function expectedSessionSpans(run: PipelineRun, sessionName: string): ExpectedSpan[] {
  const { a, b } = run.topics;
  const q = run.queueName;
  return [
    { name: `${sessionName}.session`, parent: null },
    { name: 'POST', parent: `${sessionName}.session` }, // client -> gateway
    { name: 'POST /tasks', parent: 'POST' },
    { name: `send ${a}`, parent: 'POST /tasks' },
    { name: `process ${a}`, parent: `send ${a}` }, // eachMessage: child of the producer span
    { name: `send ${b}`, parent: `process ${a}` },
    { name: `process ${b}`, parent: `${sessionName}.session` }, // withMessageContext: rejoins under the session root
    { name: `add ${q}`, parent: `process ${b}` },
    { name: `process ${q}`, parent: `add ${q}` },
    { name: `complete ${q}`, parent: `process ${q}` },
    { name: 'POST', parent: `process ${q}` }, // worker -> callback
    { name: 'POST /done', parent: 'POST' },
  ];
}

/**
 * Every session's trace, exactly: the expected spans (names and parents, no more, no less), each
 * stamped with that session; and the spans outside the sessions are only the eachBatch spans
 * (one per batch, linking every message once) and BullMQ's own housekeeping.
 */
export function sessionTraceProblems(run: PipelineRun): string[] {
  const problems: string[] = [];
  const byTrace = new Map<string, ReadableSpan[]>();
  for (const span of run.spans) {
    const list = byTrace.get(span.spanContext().traceId) ?? [];
    list.push(span);
    byTrace.set(span.spanContext().traceId, list);
  }
  for (const [i, session] of run.sessions.entries()) {
    const spans = byTrace.get(session.id) ?? [];
    byTrace.delete(session.id);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const actual = spans
      .map((s) => `${s.name} <- ${s.parentSpanContext === undefined ? 'null' : (byId.get(s.parentSpanContext.spanId)?.name ?? 'missing')}`)
      .sort();
    const expected = expectedSessionSpans(run, `agent-${i}`)
      .map((e) => `${e.name} <- ${e.parent ?? 'null'}`)
      .sort();
    if (actual.join('\n') !== expected.join('\n')) {
      problems.push(`session ${i} (${session.id}):\n  expected ${expected.join(', ')}\n  actual   ${actual.join(', ')}`);
      if (problems.length > 5) break;
    }
  }
  // What remains: eachBatch spans of topic B and BullMQ's worker housekeeping, none in a session.
  let linked = 0;
  let batches = 0;
  for (const spans of byTrace.values()) {
    for (const span of spans) {
      if (span.attributes['session.id'] !== undefined)
        problems.push(`${span.name} outside every session trace claims session ${String(span.attributes['session.id'])}`);
      if (span.name === `process ${run.topics.b}` && span.attributes['messaging.batch.message_count'] !== undefined) {
        batches++;
        linked += span.links.length + Number(span.attributes['agentops.links.dropped'] ?? 0);
      } else if (span.attributes['bullmq.queue.name'] !== run.queueName) {
        problems.push(`unexpected span outside the sessions: ${span.name}`);
      }
    }
  }
  if (batches === 0) problems.push('no eachBatch span');
  if (linked !== run.sessions.length) problems.push(`eachBatch spans link ${linked} messages, ${run.sessions.length} were sent`);
  return problems;
}

/** How many times each stage ran, and for how many distinct sessions. */
export function stageCounts(run: PipelineRun): Record<Stage, { runs: number; sessions: number }> {
  const out = {} as Record<Stage, { runs: number; sessions: number }>;
  for (const stage of STAGES) {
    const mine = run.observations.filter((o) => o.stage === stage);
    out[stage] = { runs: mine.length, sessions: new Set(mine.map((o) => o.expected)).size };
  }
  return out;
}
