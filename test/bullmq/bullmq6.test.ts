// The BullMQ adapter against BullMQ 6 (installed as `bullmq6`; the other files of this folder run
// BullMQ 5), with bullmq-otel 2 (its BullMQ 6 line, as `bullmq-otel2`) on the other side of the
// queue for interop. Same real Redis, same assertions as for BullMQ 5.

import { createRequire } from 'node:module';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { FlowProducer as FlowProducer5 } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel2';
import {
  FlowProducer,
  Queue,
  Worker,
  type FlowJob,
  type Job,
  type QueueBaseOptions,
  type QueueOptions,
  type RedisOptions,
  type WorkerOptions,
} from 'bullmq6';
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { ATTEMPT_ATTRIBUTE, instrumentFlowProducer, sessionTelemetry, type SessionTelemetryOptions } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { sharedState } from '../../src/base/state.js';
import { sessionPropagator } from '../../src/propagator/session-propagator.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { captureDiag, connection, OpenedBullMQ, processSpans, uniqueQueueName, waitFor, type DiagCapture } from './helpers.js';

const BULLMQ6_VERSION = (createRequire(import.meta.url)('bullmq6/package.json') as { version: string }).version;
const SIGNING_KEY = 'bullmq6-test-signing-key-0123456789';

type Telemetry6 = NonNullable<QueueOptions['telemetry']>;

/**
 * `sessionTelemetry()` as BullMQ 6 options take it. The adapter is typed against the `bullmq`
 * package, which is BullMQ 5 in this repository; for an application that has BullMQ 6 as `bullmq`
 * the two are the same type. At run time it is the very object the BullMQ 5 tests use.
 */
function telemetry6(options?: SessionTelemetryOptions): Telemetry6 {
  return sessionTelemetry(options) as unknown as Telemetry6;
}

/** bullmq-otel 2 (declared against BullMQ >= 6); its first argument is an options object since 2.0. */
function bullmqOtel2(tracerName: string): Telemetry6 {
  return new BullMQOtel({ tracerName });
}

/** helpers.ts `connection()` (typed for BullMQ 5, whose options are ioredis's) as BullMQ 6 types its own. */
function connection6(): RedisOptions {
  return connection() as RedisOptions;
}

/** BullMQ 6 objects a test opened: helpers.ts' tracker over the `bullmq6` classes. */
class BullMQ6Resources extends OpenedBullMQ<
  Queue,
  QueueOptions,
  Worker,
  WorkerOptions,
  (job: Job) => Promise<unknown>,
  FlowProducer,
  QueueBaseOptions
> {
  constructor() {
    super({ Queue, Worker, FlowProducer }, connection6);
  }
}

let diagLog: DiagCapture;
const bull = new BullMQ6Resources();
const t = useTracing({
  afterEach: async () => {
    sharedState().globalSessionBaggage = false;
    await bull.close();
    diagLog.stop();
  },
});
beforeEach(() => {
  diagLog = captureDiag();
});

interface Seen {
  jobId: string | undefined;
  jobName: string;
  sessionId: string | undefined;
  traceId: string | undefined;
  attempt: number;
}

/** A worker recording, for every attempt, the session and trace its processor ran in (after an await). */
function recordingWorker(
  queueName: string,
  telemetry: Telemetry6,
  behaviour: (job: Job) => unknown = () => 'ok',
  options: Omit<WorkerOptions, 'connection' | 'telemetry'> = {},
) {
  const seen: Seen[] = [];
  const worker = bull.worker(
    queueName,
    async (job) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push({
        jobId: job.id,
        jobName: job.name,
        sessionId: getSessionId(),
        traceId: trace.getActiveSpan()?.spanContext().traceId,
        attempt: job.attemptsMade + 1,
      });
      trace.getTracer('app').startSpan(`work ${job.name}`).end();
      return behaviour(job);
    },
    { ...options, telemetry },
  );
  return { worker, seen };
}

function spanId(span: ReadableSpan): string {
  return span.spanContext().spanId;
}

function traceIdOf(span: ReadableSpan): string {
  return span.spanContext().traceId;
}

function linkedTo(span: ReadableSpan, to: ReadableSpan): boolean {
  return span.links.some((l) => l.context.spanId === spanId(to) && l.context.traceId === traceIdOf(to));
}

describe('the BullMQ under test', () => {
  it('is BullMQ 6, a different package from the BullMQ 5 the other files use', async () => {
    expect(BULLMQ6_VERSION).toMatch(/^6\./);
    const { Queue: Queue5 } = await import('bullmq');
    expect(Queue).not.toBe(Queue5);
  });
});

describe('add -> process', () => {
  it('the processor runs in the producer session, getSessionId() works, its span a child of the add span', async () => {
    const name = uniqueQueueName('v6');
    const telemetry = telemetry6();
    const queue = bull.queue(name, { telemetry });
    const session = startSession({ name: 'planner' });
    const job = await withSession(session, () => queue.add('write', { topic: 'otters' }));
    const { seen } = recordingWorker(name, telemetry);
    await waitFor('the job to complete', () => processSpans(t.spans(), name).length === 1 && t.byName(`complete ${name}`).length === 1);
    session.end();

    expect(seen).toEqual([{ jobId: job.id, jobName: 'write', sessionId: session.id, traceId: session.id, attempt: 1 }]);
    const producer = t.one(`add ${name}`);
    const consumer = processSpans(t.spans(), name)[0]!;
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(traceIdOf(producer)).toBe(session.id);
    expect(parentSpanId(producer)).toBe(session.rootSpanId);
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': name,
      'messaging.operation.type': 'send',
      'messaging.message.id': job.id,
      'session.id': session.id,
    });
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(traceIdOf(consumer)).toBe(session.id);
    expect(parentSpanId(consumer)).toBe(spanId(producer));
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': name,
      'messaging.operation.type': 'process',
      'messaging.message.id': job.id,
      [ATTEMPT_ATTRIBUTE]: 1,
      'agentops.hop.trust': 'trust',
      'agentops.hop.shape': 'parent',
      'session.id': session.id,
    });
    const work = t.one('work write');
    expect(parentSpanId(work)).toBe(spanId(consumer));
    expect(work.attributes['session.id']).toBe(session.id);
    expect(parentSpanId(t.one(`complete ${name}`))).toBe(spanId(consumer));
  });

  it('stores the same small W3C carrier with the job as under BullMQ 5, and no payload', async () => {
    const name = uniqueQueueName('v6');
    const queue = bull.queue(name, { telemetry: telemetry6() });
    const session = startSession();
    const added = await withSession(session, () => queue.add('write', { secret: 'x'.repeat(5000) }));
    session.end();
    const stored = await queue.getJob(added.id!);
    const metadata = stored!.opts.telemetry!.metadata!;
    expect(JSON.parse(metadata)).toEqual({
      traceparent: `00-${session.id}-${spanId(t.one(`add ${name}`))}-03`,
      baggage: `agentops.session.id=${session.id},agentops.session.root=${session.rootSpanId},agentops.session.flags=03`,
    });
    expect(metadata.length).toBeLessThan(250);
    // And in Redis, under BullMQ's `tm` key of the stored options, as BullMQ 5 keeps it.
    const raw = JSON.parse((await bull.redis().hget(`bull:${name}:${added.id}`, 'opts'))!) as { tm?: string };
    expect(raw.tm).toBe(metadata);
  });
});

describe('addBulk', () => {
  it('every job runs in the session, under the addBulk span', async () => {
    const name = uniqueQueueName('v6');
    const telemetry = telemetry6();
    const queue = bull.queue(name, { telemetry });
    const session = startSession();
    const jobs = await withSession(session, () => queue.addBulk([0, 1, 2].map((i) => ({ name: `job-${i}`, data: { i } }))));
    const { seen } = recordingWorker(name, telemetry);
    await waitFor('three jobs', () => seen.length === 3 && processSpans(t.spans(), name).length === 3);
    session.end();

    const bulk = t.one(`addBulk ${name}`);
    expect(bulk.attributes).toMatchObject({
      'messaging.operation.type': 'send',
      'messaging.batch.message_count': 3,
      'session.id': session.id,
    });
    expect(traceIdOf(bulk)).toBe(session.id);
    expect(seen.map((s) => s.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(seen.map((s) => [s.sessionId, s.traceId])).toEqual(Array(3).fill([session.id, session.id]));
    for (const span of processSpans(t.spans(), name)) {
      expect(traceIdOf(span)).toBe(session.id);
      expect(parentSpanId(span)).toBe(spanId(bulk));
    }
  });
});

describe('flows', () => {
  /** root (no opts) -> mids (with / without opts) -> leaves (with / without opts), over three queues. */
  function threeLevelFlow(queues: { top: string; mid: string; leaf: string }): FlowJob {
    return {
      name: 'root',
      queueName: queues.top,
      data: { level: 0 },
      children: [
        {
          name: 'mid-opts',
          queueName: queues.mid,
          data: { level: 1 },
          opts: { attempts: 1 },
          children: [
            { name: 'leaf-bare', queueName: queues.leaf, data: { level: 2 } },
            { name: 'leaf-opts', queueName: queues.leaf, data: { level: 2 }, opts: { priority: 1 } },
          ],
        },
        {
          name: 'mid-bare',
          queueName: queues.mid,
          data: { level: 1 },
          children: [{ name: 'leaf-deep', queueName: queues.leaf, data: { level: 2 } }],
        },
      ],
    };
  }
  const JOBS = 6;

  function flowWorkers(queues: { top: string; mid: string; leaf: string }) {
    const seen = new Map<string, string | undefined>();
    const telemetry = telemetry6();
    for (const queueName of Object.values(queues)) {
      bull.worker(queueName, async (job: Job) => void seen.set(job.name, getSessionId()), { telemetry });
    }
    return seen;
  }

  function only(prefix: string, jobName: string): ReadableSpan {
    const found = t.spans().filter((s) => s.name.startsWith(prefix) && s.attributes['bullmq.job.name'] === jobName);
    expect(found, `${prefix}${jobName}`).toHaveLength(1);
    return found[0]!;
  }

  it('BullMQ 6 still hands the context only to nodes with opts (what instrumentFlowProducer is for)', async () => {
    const queues = { top: uniqueQueueName('top6'), mid: uniqueQueueName('mid6'), leaf: uniqueQueueName('leaf6') };
    const producer = bull.flowProducer({ telemetry: telemetry6() });
    const session = startSession();
    await withSession(session, () => producer.add(threeLevelFlow(queues)));
    const seen = flowWorkers(queues);
    await waitFor('the whole flow', () => seen.size === JOBS);
    session.end();
    expect(Object.fromEntries(seen)).toEqual({
      'leaf-bare': undefined,
      'leaf-opts': session.id,
      'leaf-deep': undefined,
      'mid-opts': session.id,
      'mid-bare': undefined,
      root: undefined,
    });
  });

  it('with instrumentFlowProducer, every job of a three-level flow, with or without opts, runs in the session', async () => {
    const queues = { top: uniqueQueueName('top6'), mid: uniqueQueueName('mid6'), leaf: uniqueQueueName('leaf6') };
    const raw = bull.flowProducer({ telemetry: telemetry6() });
    // The wrapper is typed against the `bullmq` package (BullMQ 5 here); it instruments this instance.
    const producer = instrumentFlowProducer(raw as unknown as FlowProducer5) as unknown as FlowProducer;
    expect(producer).toBe(raw);
    const flow = threeLevelFlow(queues);
    const before = structuredClone(flow);
    const session = startSession();
    const tree = await withSession(session, () => producer.add(flow));
    expect(flow).toEqual(before);
    expect(tree.job.name).toBe('root');
    expect(tree.children).toHaveLength(2);
    const seen = flowWorkers(queues);
    await waitFor('the whole flow', () => seen.size === JOBS && t.spans().filter((s) => s.name.startsWith('process ')).length === JOBS);
    session.end();

    expect(Object.fromEntries(seen)).toEqual({
      'leaf-bare': session.id,
      'leaf-opts': session.id,
      'leaf-deep': session.id,
      'mid-opts': session.id,
      'mid-bare': session.id,
      root: session.id,
    });
    const addFlow = t.one(`addFlow ${queues.top}`);
    expect(traceIdOf(addFlow)).toBe(session.id);
    for (const jobName of seen.keys()) {
      const processed = only('process ', jobName);
      const added = only('addNode ', jobName);
      expect(traceIdOf(processed), jobName).toBe(session.id);
      expect(parentSpanId(processed), jobName).toBe(spanId(added));
      expect(processed.attributes['session.id'], jobName).toBe(session.id);
    }
    // The creation spans nest like the flow: root under addFlow, each child under its parent.
    expect(parentSpanId(only('addNode ', 'root'))).toBe(spanId(addFlow));
    expect(parentSpanId(only('addNode ', 'mid-bare'))).toBe(spanId(only('addNode ', 'root')));
    expect(parentSpanId(only('addNode ', 'leaf-deep'))).toBe(spanId(only('addNode ', 'mid-bare')));
    expect(parentSpanId(only('addNode ', 'leaf-bare'))).toBe(spanId(only('addNode ', 'mid-opts')));
  });
});

describe('retries', () => {
  it('attempts 3, failing twice: every attempt in the session, numbered 1, 2, 3', async () => {
    const name = uniqueQueueName('v6');
    const telemetry = telemetry6();
    const queue = bull.queue(name, { telemetry });
    const session = startSession();
    await withSession(session, () => queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } }));
    const { worker, seen } = recordingWorker(name, telemetry, (job) => {
      if (job.attemptsMade < 2) throw new Error(`attempt ${job.attemptsMade + 1} failed`);
      return 'third time';
    });
    const completed = new Promise<unknown>((resolve) => worker.on('completed', (_job, result) => resolve(result)));
    expect(await completed).toBe('third time');
    await waitFor('three attempt spans', () => processSpans(t.spans(), name).length === 3);
    session.end();

    expect(seen.map((s) => [s.attempt, s.sessionId, s.traceId])).toEqual([1, 2, 3].map((n) => [n, session.id, session.id]));
    const attempts = processSpans(t.spans(), name);
    expect(attempts.map((s) => s.attributes[ATTEMPT_ATTRIBUTE])).toEqual([1, 2, 3]);
    expect(new Set(attempts.map(spanId)).size).toBe(3);
    const producer = spanId(t.one(`add ${name}`));
    for (const span of attempts) {
      expect(traceIdOf(span)).toBe(session.id);
      expect(parentSpanId(span)).toBe(producer);
      expect(span.attributes['session.id']).toBe(session.id);
    }
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(attempts.map((s) => s.status.message)).toEqual(['attempt 1 failed', 'attempt 2 failed', undefined]);
    const delays = t.byName(`delay ${name}`);
    expect(delays.map(parentSpanId)).toEqual(attempts.slice(0, 2).map(spanId));
    expect(parentSpanId(t.one(`complete ${name}`))).toBe(spanId(attempts[2]!));
  });
});

describe('job schedulers (upsertJobScheduler)', () => {
  const RUNS = 3;
  const every = { every: 200 };

  /** Schedules `tick` every 200 ms (in the caller's context), runs a worker until RUNS runs, removes the scheduler. */
  async function runScheduler(schedule: (queue: Queue) => Promise<unknown>) {
    const name = uniqueQueueName('sched6');
    const queue = bull.queue(name, { telemetry: telemetry6() });
    await schedule(queue);
    // Only the call that created the scheduler has added so far; the worker's own adds come later.
    const scheduling = t.one(`add ${name}`);
    const runs: Array<{ jobId: string; sessionId: string | undefined; traceId: string | undefined }> = [];
    bull.worker(
      name,
      async (job: Job) => {
        runs.push({ jobId: job.id!, sessionId: getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId });
      },
      { telemetry: telemetry6() },
    );
    await waitFor(`${RUNS} runs`, () => runs.length >= RUNS && processSpans(t.spans(), name).length >= RUNS);
    expect(await queue.removeJobScheduler('tick')).toBe(true);
    return { scheduling, runs: runs.slice(0, RUNS), spans: processSpans(t.spans(), name).slice(0, RUNS) };
  }

  it('created inside a session: every run in the session, a child of its root, linked to the scheduling span', async () => {
    const session = startSession({ name: 'nightly' });
    const { scheduling, runs, spans } = await runScheduler((queue) =>
      withSession(session, () => queue.upsertJobScheduler('tick', every, { name: 'tick', data: {} })),
    );
    session.end();
    expect(traceIdOf(scheduling)).toBe(session.id);
    expect(new Set(runs.map((r) => r.jobId)).size).toBe(RUNS);
    for (const run of runs) expect(run.jobId).toMatch(/^repeat:tick:\d+$/);
    expect(runs.map((r) => [r.sessionId, r.traceId])).toEqual(Array(RUNS).fill([session.id, session.id]));
    for (const span of spans) {
      expect(traceIdOf(span)).toBe(session.id);
      expect(parentSpanId(span)).toBe(session.rootSpanId);
      expect(linkedTo(span, scheduling)).toBe(true);
      expect(span.attributes['agentops.hop.shape']).toBe('rejoin');
      expect(span.attributes['session.id']).toBe(session.id);
    }
  });

  it('created outside any session: every run gets a trace of its own, linked to the scheduling span', async () => {
    const { scheduling, runs, spans } = await runScheduler((queue) => queue.upsertJobScheduler('tick', every, { name: 'tick' }));
    for (const run of runs) expect(run.jobId).toMatch(/^repeat:tick:\d+$/);
    expect(runs.map((r) => r.sessionId)).toEqual(Array(RUNS).fill(undefined));
    const traces = spans.map(traceIdOf);
    expect(new Set(traces).size).toBe(RUNS);
    expect(traces).not.toContain(traceIdOf(scheduling));
    expect(runs.map((r) => r.traceId)).toEqual(traces);
    for (const span of spans) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(linkedTo(span, scheduling)).toBe(true);
      expect(span.attributes['session.id']).toBeUndefined();
    }
  });
});

describe('rejoin shape', () => {
  it("the job's span is a child of the session root, linked to the producer span", async () => {
    const name = uniqueQueueName('v6');
    const queue = bull.queue(name, { telemetry: telemetry6() });
    const session = startSession();
    await withSession(session, () => queue.add('fan-out', {}));
    const { seen } = recordingWorker(name, telemetry6({ queues: { [name]: { shape: 'rejoin' } } }));
    await waitFor('the job', () => seen.length === 1 && processSpans(t.spans(), name).length === 1);
    session.end();
    const consumer = processSpans(t.spans(), name)[0]!;
    expect(seen[0]).toMatchObject({ sessionId: session.id, traceId: session.id });
    expect(traceIdOf(consumer)).toBe(session.id);
    expect(parentSpanId(consumer)).toBe(session.rootSpanId);
    expect(consumer.links.map((l) => l.context.spanId)).toEqual([spanId(t.one(`add ${name}`))]);
    expect(consumer.attributes['agentops.hop.shape']).toBe('rejoin');
    expect(parentSpanId(t.one('work fan-out'))).toBe(spanId(consumer));
  });
});

describe('signed entries', () => {
  it('a signed entry joins the session; one edited in Redis to claim another session is refused', async () => {
    const name = uniqueQueueName('v6');
    const producer = bull.queue(name, { telemetry: telemetry6({ signingKey: SIGNING_KEY }) });
    const honest = startSession({ name: 'honest' });
    const victim = startSession({ name: 'victim' });
    const attacker = startSession({ name: 'attacker' });
    const signed = await withSession(honest, () => producer.add('signed', {}));
    const forged = await withSession(attacker, () => producer.add('forged', {}));
    expect(JSON.parse(signed.opts.telemetry!.metadata!).baggage).toMatch(/,agentops\.session\.sig=v1\.k0\.\d+\.[A-Za-z0-9_-]{43}$/);
    // Someone with Redis access rewrites the stored entry (BullMQ keeps it as `tm` in the job's opts).
    const redis = bull.redis();
    const key = `bull:${name}:${forged.id}`;
    const opts = JSON.parse((await redis.hget(key, 'opts'))!) as { tm: string };
    opts.tm = opts.tm.replaceAll(attacker.id, victim.id).replace(attacker.rootSpanId, victim.rootSpanId);
    expect(opts.tm).toContain(`agentops.session.id=${victim.id},agentops.session.root=${victim.rootSpanId}`);
    await redis.hset(key, 'opts', JSON.stringify(opts));

    const { seen } = recordingWorker(name, telemetry6({ signingKey: SIGNING_KEY }));
    await waitFor('both jobs', () => seen.length === 2 && processSpans(t.spans(), name).length === 2);
    for (const s of [honest, victim, attacker]) s.end();

    const bySeen = (id: string | undefined) => seen.find((s) => s.jobId === id)!;
    expect(bySeen(signed.id)).toMatchObject({ sessionId: honest.id, traceId: honest.id });
    expect(bySeen(forged.id).sessionId).toBeUndefined();
    expect([honest.id, victim.id, attacker.id]).not.toContain(bySeen(forged.id).traceId);
    const spanOf = (jobId: string | undefined) =>
      processSpans(t.spans(), name).find((s) => s.attributes['messaging.message.id'] === jobId)!;
    expect(spanOf(signed.id).attributes['agentops.hop.trust']).toBe('trust');
    expect(spanOf(forged.id).attributes['agentops.hop.trust']).toBe('link');
    expect(spanOf(forged.id).parentSpanContext).toBeUndefined();
    expect(spanOf(forged.id).attributes['session.id']).toBeUndefined();
    expect(diagLog.matching('inbound session entry refused: forged')).toHaveLength(1);
  });
});

describe("the worker's background loop (BullMQ 6 asks the context manager for root())", () => {
  it('a worker built inside a session keeps its stalled-job checks out of it: each check a trace of its own', async () => {
    const name = uniqueQueueName('v6');
    const session = startSession();
    const telemetry = telemetry6();
    expect(telemetry.contextManager.root!()).toBe(ROOT_CONTEXT);
    const { seen } = withSession(session, () => recordingWorker(name, telemetry, () => 'ok', { stalledInterval: 100 }));
    const checks = () => t.spans().filter((s) => s.name === `moveStalledJobsToWait ${name}`);
    await waitFor('three stalled-job checks', () => checks().length >= 3);
    // The worker still runs jobs from other sessions in theirs.
    const other = startSession();
    await withSession(other, () => bull.queue(name, { telemetry }).add('job', {}));
    await waitFor('the job', () => seen.length === 1);
    session.end();
    other.end();
    expect(seen[0]).toMatchObject({ sessionId: other.id, traceId: other.id });
    const loop = checks();
    expect(new Set(loop.map(traceIdOf)).size).toBe(loop.length);
    for (const span of loop) {
      expect(traceIdOf(span)).not.toBe(session.id);
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.attributes['session.id']).toBeUndefined();
    }
  });
});

describe('interop with bullmq-otel 2', () => {
  it('bullmq-otel 2 producer -> our worker: one trace, our process span continuing theirs', async () => {
    const name = uniqueQueueName('v6');
    const session = startSession();
    await withSession(session, () => bull.queue(name, { telemetry: bullmqOtel2('other-service') }).add('job', {}));
    const { seen } = recordingWorker(name, telemetry6());
    await waitFor('the job', () => seen.length === 1 && processSpans(t.spans(), name).length === 1);
    session.end();
    const producer = t.one(`add ${name}.job`);
    const consumer = processSpans(t.spans(), name)[0]!;
    expect(producer.instrumentationScope.name).toBe('other-service');
    expect(consumer.instrumentationScope.name).toBe('agentops-propagation');
    expect(traceIdOf(producer)).toBe(session.id);
    expect(traceIdOf(consumer)).toBe(session.id);
    expect(parentSpanId(consumer)).toBe(spanId(producer));
    expect(seen[0]!.traceId).toBe(session.id);
    // bullmq-otel injects through the global propagator, which withholds the session entry by default.
    expect(seen[0]!.sessionId).toBeUndefined();
  });

  it('bullmq-otel 2 producer with the session entry on every inject: the job joins the session too', async () => {
    sharedState().globalSessionBaggage = true;
    const name = uniqueQueueName('v6');
    const session = startSession();
    await withSession(session, () => bull.queue(name, { telemetry: bullmqOtel2('other-service') }).add('job', {}));
    const { seen } = recordingWorker(name, telemetry6());
    await waitFor('the job', () => seen.length === 1 && processSpans(t.spans(), name).length === 1);
    session.end();
    expect(seen[0]).toMatchObject({ sessionId: session.id, traceId: session.id });
    expect(parentSpanId(processSpans(t.spans(), name)[0]!)).toBe(spanId(t.one(`add ${name}.job`)));
  });

  it('our producer -> bullmq-otel 2 worker: one trace; the session only where the worker vets its global extract (issue 13)', async () => {
    // What init({ vetGlobalExtract: true }) registers; without it bullmq-otel's extract is not vetted (test/bullmq/interop.test.ts).
    propagation.disable();
    propagation.setGlobalPropagator(sessionPropagator({ vetExtractedSession: true }));
    onTestFinished(() => {
      propagation.disable();
      propagation.setGlobalPropagator(sessionPropagator());
    });
    const name = uniqueQueueName('v6');
    const session = startSession();
    await withSession(session, () => bull.queue(name, { telemetry: telemetry6() }).add('job', {}));
    const { seen } = recordingWorker(name, bullmqOtel2('other-service'));
    await waitFor('the job', () => seen.length === 1 && processSpans(t.spans(), name).length === 1);
    session.end();
    const producer = t.one(`add ${name}`);
    const consumer = processSpans(t.spans(), name)[0]!;
    expect(producer.instrumentationScope.name).toBe('agentops-propagation');
    expect(consumer.instrumentationScope.name).toBe('other-service');
    expect(traceIdOf(consumer)).toBe(session.id);
    expect(parentSpanId(consumer)).toBe(spanId(producer));
    expect(seen[0]).toMatchObject({ sessionId: session.id, traceId: session.id });
    expect(t.one('work job').attributes['session.id']).toBe(session.id);
  });
});
