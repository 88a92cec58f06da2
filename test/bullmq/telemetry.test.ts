// sessionTelemetry() on real Queues and Workers against the real Redis: the job's processor runs
// in the producer's session, the spans carry the messaging conventions, retries stay in it.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { ATTEMPT_ATTRIBUTE, sessionTelemetry } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { BullMQResources, processSpans, uniqueQueueName, waitFor } from './helpers.js';

// Made before any tracer provider is registered, as an app that builds its queues at import time
// does: the tracer must be looked up per span, not captured here.
const earlyTelemetry = sessionTelemetry();

const bull = new BullMQResources();
const t = useTracing({ afterEach: () => bull.close() });

interface Seen {
  jobId: string | undefined;
  sessionId: string | undefined;
  traceId: string | undefined;
  attempt: number;
}

/** A worker that records, for every attempt, the session and trace its processor ran in. */
function recordingWorker(
  queueName: string,
  telemetry = sessionTelemetry(),
  behaviour: (job: Job) => unknown = () => 'ok',
  options: Parameters<BullMQResources['worker']>[2] = {},
) {
  const seen: Seen[] = [];
  const worker = bull.worker(
    queueName,
    async (job) => {
      // Something the job's code awaits: the context must survive it.
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push({
        jobId: job.id,
        sessionId: getSessionId(),
        traceId: trace.getActiveSpan()?.spanContext().traceId,
        attempt: job.attemptsMade + 1,
      });
      trace.getTracer('app').startSpan('work in job').end();
      return behaviour(job);
    },
    { telemetry, ...options },
  );
  return { worker, seen };
}

function producerSpan(queueName: string, operation = 'add'): ReadableSpan {
  return t.one(`${operation} ${queueName}`);
}

describe('add -> process', () => {
  it('runs the processor in the producer session, its span a child of the producer span', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const session = startSession({ name: 'planner' });
    const job = await withSession(session, () => queue.add('write', { topic: 'otters' }));
    const { seen } = recordingWorker(name, telemetry);
    await waitFor('the job to be processed', () => processSpans(t.spans(), name).length === 1);
    session.end();

    expect(seen).toEqual([{ jobId: job.id, sessionId: session.id, traceId: session.id, attempt: 1 }]);
    const producer = producerSpan(name);
    const [consumer] = processSpans(t.spans(), name);
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(producer.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(producer)).toBe(session.rootSpanId);
    expect(consumer!.kind).toBe(SpanKind.CONSUMER);
    expect(consumer!.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(consumer!)).toBe(producer.spanContext().spanId);
    const work = t.one('work in job');
    expect(parentSpanId(work)).toBe(consumer!.spanContext().spanId);
    expect(work.attributes['session.id']).toBe(session.id);
  });

  it('works when made before the tracer provider was registered', async () => {
    const name = uniqueQueueName();
    const session = startSession();
    await withSession(session, () => bull.queue(name, { telemetry: earlyTelemetry }).add('early', {}));
    const { seen } = recordingWorker(name, earlyTelemetry);
    await waitFor('the job', () => processSpans(t.spans(), name).length === 1);
    session.end();
    expect(seen[0]!.sessionId).toBe(session.id);
    expect(processSpans(t.spans(), name)[0]!.spanContext().traceId).toBe(session.id);
  });

  it('records the messaging conventions next to BullMQ own attributes', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const session = startSession();
    const job = await withSession(session, () => queue.add('write', { secret: 'payload-data' }));
    recordingWorker(name, telemetry, () => ({ result: 'payload-result' }));
    await waitFor(
      'the job to complete',
      () => t.spans().some((s) => s.name === `complete ${name}`) && processSpans(t.spans(), name).length === 1,
    );
    session.end();

    const producer = producerSpan(name);
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': name,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'add',
      'messaging.message.id': job.id,
      'bullmq.queue.name': name,
      'bullmq.job.name': 'write',
      'session.id': session.id,
    });
    const [consumer] = processSpans(t.spans(), name);
    expect(consumer!.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': name,
      'messaging.operation.type': 'process',
      'messaging.message.id': job.id,
      [ATTEMPT_ATTRIBUTE]: 1,
      'bullmq.job.id': job.id,
      'bullmq.job.name': 'write',
      'agentops.hop.trust': 'trust',
      'agentops.hop.shape': 'parent',
      'session.id': session.id,
    });
    // No payload, no result anywhere by default.
    for (const span of t.spans()) {
      const text = JSON.stringify([span.attributes, span.events]);
      expect(text).not.toContain('payload-data');
      expect(text).not.toContain('payload-result');
      expect(span.attributes['bullmq.job.result']).toBeUndefined();
    }
    expect(consumer!.events.map((e) => e.name)).toContain('job completed');
  });

  it('keeps results on spans when recordPayloads is set', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry({ recordPayloads: true });
    const queue = bull.queue(name, { telemetry });
    await withSession(startSession(), () => queue.add('write', {}));
    recordingWorker(name, telemetry, () => ({ result: 'payload-result' }));
    await waitFor('the job to be processed', () => processSpans(t.spans(), name).length === 1);
    const event = processSpans(t.spans(), name)[0]!.events.find((e) => e.name === 'job completed');
    expect(event?.attributes?.['bullmq.job.result']).toContain('payload-result');
  });

  it('stores a small W3C carrier with the job and nothing of its payload', async () => {
    const name = uniqueQueueName();
    const queue = bull.queue(name, { telemetry: sessionTelemetry() });
    const session = startSession();
    const added = await withSession(session, () => queue.add('write', { secret: 'x'.repeat(5000) }));
    session.end();
    const stored = await queue.getJob(added.id!);
    const metadata = stored!.opts.telemetry!.metadata!;
    const parsed = JSON.parse(metadata) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(['baggage', 'traceparent']);
    expect(parsed.traceparent).toMatch(new RegExp(`^00-${session.id}-${producerSpan(name).spanContext().spanId}-03$`));
    expect(parsed.baggage).toBe(`agentops.session.id=${session.id},agentops.session.root=${session.rootSpanId},agentops.session.flags=03`);
    expect(metadata.length).toBeLessThan(250);
    expect(metadata).not.toContain('xxx');
  });

  it('a job added outside any session runs in a trace of its own, outside any session', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    await queue.add('write', {});
    const { seen } = recordingWorker(name, telemetry);
    await waitFor('the job to be processed', () => processSpans(t.spans(), name).length === 1);
    expect(seen[0]!.sessionId).toBeUndefined();
    expect(processSpans(t.spans(), name)[0]!.spanContext().traceId).toBe(producerSpan(name).spanContext().traceId);
  });

  it('a job from a producer without telemetry runs in a root span of its own', async () => {
    const name = uniqueQueueName();
    await withSession(startSession(), () => bull.queue(name).add('plain', {}));
    const { seen } = recordingWorker(name);
    await waitFor('the job', () => processSpans(t.spans(), name).length === 1);
    const span = processSpans(t.spans(), name)[0]!;
    expect(seen[0]!.sessionId).toBeUndefined();
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.attributes['agentops.hop.shape']).toBe('root');
  });

  it('a worker built inside a session does not put jobs from elsewhere into it', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const workerSession = startSession();
    const { seen } = withSession(workerSession, () => recordingWorker(name, telemetry));
    const producerSession = startSession();
    await withSession(producerSession, () => queue.add('write', {}));
    await queue.add('plain', {});
    await waitFor('both jobs', () => seen.length === 2);
    workerSession.end();
    producerSession.end();
    expect(seen.map((s) => s.sessionId).sort()).toEqual([producerSession.id, undefined].sort());
    expect(seen.every((s) => s.traceId !== workerSession.id)).toBe(true);
  });
});

describe('addBulk, delayed and prioritised jobs', () => {
  it('addBulk: every job runs in the session, under the addBulk span', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const session = startSession();
    const jobs = await withSession(session, () => queue.addBulk([0, 1, 2].map((i) => ({ name: `job-${i}`, data: { i } }))));
    const { seen } = recordingWorker(name, telemetry);
    await waitFor('three jobs', () => processSpans(t.spans(), name).length === 3);
    session.end();
    const bulk = producerSpan(name, 'addBulk');
    expect(bulk.attributes).toMatchObject({
      'messaging.operation.type': 'send',
      'messaging.batch.message_count': 3,
      'session.id': session.id,
    });
    expect(seen.map((s) => s.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(seen.every((s) => s.sessionId === session.id && s.traceId === session.id)).toBe(true);
    for (const span of processSpans(t.spans(), name)) expect(parentSpanId(span)).toBe(bulk.spanContext().spanId);
  });

  it('delayed and prioritised jobs keep the session', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const session = startSession();
    await withSession(session, async () => {
      await queue.add('delayed', {}, { delay: 300 });
      await queue.add('low', {}, { priority: 10 });
      await queue.add('high', {}, { priority: 1 });
    });
    const { seen } = recordingWorker(name, telemetry);
    // The process span ends after the processor returns: wait for the spans, not only the calls.
    await waitFor('three jobs', () => seen.length === 3 && processSpans(t.spans(), name).length === 3);
    session.end();
    expect(seen.every((s) => s.sessionId === session.id && s.traceId === session.id)).toBe(true);
    const processed = processSpans(t.spans(), name);
    expect(processed.map((s) => s.attributes['bullmq.job.name'])).toEqual(['high', 'low', 'delayed']);
    const producers = t.byName(`add ${name}`).map((s) => s.spanContext().spanId);
    for (const span of processed) expect(producers).toContain(parentSpanId(span));
  });
});

describe('retries', () => {
  it('every attempt, with backoff, stays in the session with its attempt number', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const session = startSession();
    await withSession(session, () => queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } }));
    const { seen } = recordingWorker(name, telemetry, (job) => {
      if (job.attemptsMade < 2) throw new Error(`attempt ${job.attemptsMade + 1} failed`);
      return 'third time';
    });
    await waitFor('three attempts', () => processSpans(t.spans(), name).length === 3);
    session.end();

    expect(seen.map((s) => [s.attempt, s.sessionId, s.traceId])).toEqual([1, 2, 3].map((n) => [n, session.id, session.id]));
    const attempts = processSpans(t.spans(), name);
    expect(attempts.map((s) => s.attributes[ATTEMPT_ATTRIBUTE])).toEqual([1, 2, 3]);
    const producer = producerSpan(name).spanContext().spanId;
    for (const span of attempts) {
      expect(span.spanContext().traceId).toBe(session.id);
      expect(parentSpanId(span)).toBe(producer);
      expect(span.attributes['session.id']).toBe(session.id);
    }
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(attempts[0]!.status.message).toBe('attempt 1 failed');
    expect(attempts[0]!.events.map((e) => e.name)).toContain('job failed');
    // BullMQ's settle spans ('delay', 'complete') are children of the attempt they settle.
    const delays = t.byName(`delay ${name}`);
    expect(delays).toHaveLength(2);
    expect(delays.map(parentSpanId)).toEqual(attempts.slice(0, 2).map((s) => s.spanContext().spanId));
    expect(t.one(`complete ${name}`).attributes['messaging.operation.type']).toBe('settle');
  });

  it('errors of the processor reach BullMQ unchanged', async () => {
    const name = uniqueQueueName();
    const telemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry });
    const boom = new TypeError('processor says no');
    const worker = bull.worker(
      name,
      async () => {
        throw boom;
      },
      { telemetry },
    );
    const failed = new Promise<Error>((resolve) => worker.on('failed', (_job, err) => resolve(err)));
    await withSession(startSession(), () => queue.add('doomed', {}));
    expect(await failed).toBe(boom);
  });
});

describe('trust and shape per queue', () => {
  it("rejoin: the job's span is a child of the session root, linked to the producer", async () => {
    const name = uniqueQueueName();
    const queue = bull.queue(name, { telemetry: sessionTelemetry() });
    const session = startSession();
    await withSession(session, () => queue.add('fan-out', {}));
    const { seen } = recordingWorker(name, sessionTelemetry({ queues: { [name]: { shape: 'rejoin' } } }));
    await waitFor('the job', () => processSpans(t.spans(), name).length === 1);
    session.end();
    const [consumer] = processSpans(t.spans(), name);
    expect(seen[0]!.sessionId).toBe(session.id);
    expect(consumer!.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(consumer!)).toBe(session.rootSpanId);
    expect(consumer!.links.map((l) => l.context.spanId)).toEqual([producerSpan(name).spanContext().spanId]);
    expect(consumer!.attributes['agentops.hop.shape']).toBe('rejoin');
  });

  it("'link' for one queue: a new trace linking the producer, no session; other queues still trust", async () => {
    const publicQueue = uniqueQueueName('public');
    const internalQueue = uniqueQueueName('internal');
    const producer = sessionTelemetry();
    const consumer = sessionTelemetry({ queues: { [publicQueue]: { trust: 'link' } } });
    const session = startSession();
    await withSession(session, async () => {
      await bull.queue(publicQueue, { telemetry: producer }).add('a', {});
      await bull.queue(internalQueue, { telemetry: producer }).add('b', {});
    });
    const pub = recordingWorker(publicQueue, consumer);
    const internal = recordingWorker(internalQueue, consumer);
    await waitFor(
      'both jobs',
      () => pub.seen.length === 1 && internal.seen.length === 1 && processSpans(t.spans(), publicQueue).length === 1,
    );
    session.end();
    expect(pub.seen[0]!.sessionId).toBeUndefined();
    expect(pub.seen[0]!.traceId).not.toBe(session.id);
    const linked = processSpans(t.spans(), publicQueue)[0]!;
    expect(linked.parentSpanContext).toBeUndefined();
    expect(linked.links.map((l) => l.context.spanId)).toEqual([producerSpan(publicQueue).spanContext().spanId]);
    expect(internal.seen[0]!.sessionId).toBe(session.id);
  });

  it('a trust function sees the queue, job id and name', async () => {
    const name = uniqueQueueName();
    const seenInfo: unknown[] = [];
    const consumer = sessionTelemetry({
      trust: (info) => {
        seenInfo.push(info);
        return info.jobName === 'trusted' ? 'trust' : 'ignore';
      },
    });
    const queue = bull.queue(name, { telemetry: sessionTelemetry() });
    const session = startSession();
    const [trusted, ignored] = await withSession(session, () => Promise.all([queue.add('trusted', {}), queue.add('other', {})]));
    const { seen } = recordingWorker(name, consumer);
    await waitFor('both jobs', () => seen.length === 2);
    session.end();
    expect(seen.find((s) => s.jobId === trusted.id)!.sessionId).toBe(session.id);
    expect(seen.find((s) => s.jobId === ignored.id)!.sessionId).toBeUndefined();
    expect(seenInfo).toContainEqual({ queueName: name, jobId: trusted.id, jobName: 'trusted', scheduled: false });
  });

  it('rejects bad options with a TypeError at setup', () => {
    expect(() => sessionTelemetry({ trust: 'maybe' as never })).toThrow(TypeError);
    expect(() => sessionTelemetry({ queues: { q: { shape: 'sideways' as never } } })).toThrow(TypeError);
    expect(() => sessionTelemetry({ scheduledRuns: 'forever' as never })).toThrow(TypeError);
    expect(() => sessionTelemetry({ signingKey: 'short' })).toThrow(TypeError);
    expect(() => sessionTelemetry({ queues: 'all' as never })).toThrow(TypeError);
    expect(() => sessionTelemetry({ recordPayloads: 'yes' as never })).toThrow(TypeError);
    expect(() => sessionTelemetry({ recordPayload: true } as never)).toThrow(
      /sessionTelemetry options has no option "recordPayload" \(did you mean "recordPayloads"\?\)/,
    );
    expect(() => sessionTelemetry({ queues: { q: { sheduledRuns: 'session' } } } as never)).toThrow(/did you mean "scheduledRuns"/);
  });
});

describe('the telemetry interface on its own', () => {
  it('never throws into BullMQ, whatever it is handed', () => {
    const { tracer, contextManager } = sessionTelemetry();
    expect(contextManager.getMetadata(undefined as never)).toBe('');
    expect(contextManager.getMetadata(ROOT_CONTEXT)).toBe('');
    for (const metadata of [42, null, '{', '[]', 'x'.repeat(100_000)]) {
      expect(() => contextManager.fromMetadata(ROOT_CONTEXT, metadata as never)).not.toThrow();
    }
    for (const ctx of [undefined, contextManager.fromMetadata(ROOT_CONTEXT, '{"traceparent":7}')]) {
      for (const kind of [SpanKind.CONSUMER, SpanKind.PRODUCER, 99]) {
        const span = tracer.startSpan(undefined as never, { kind: kind as never }, ctx);
        expect(() => {
          span.setAttributes(null as never);
          span.setAttribute('x', {} as never);
          span.setSpanOnContext(ROOT_CONTEXT).getValue(Symbol('probe'));
          span.addEvent('e', 5 as never);
          span.recordException(undefined as never);
          span.end();
          span.end();
        }).not.toThrow();
      }
    }
  });
});
