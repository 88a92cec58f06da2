// Job schedulers and repeatable jobs: runs of a schedule created in a session stay in it, each
// linked to the span that created the schedule; with 'own-trace', or without a session, each run
// gets a trace of its own (never one endless trace under the scheduling span).

import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { sessionTelemetry, type SessionTelemetryOptions } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { BullMQResources, processSpans, uniqueQueueName, waitFor } from './helpers.js';

const bull = new BullMQResources();
const t = useTracing({ afterEach: () => bull.close() });

const RUNS = 3;

interface Run {
  jobId: string;
  sessionId: string | undefined;
  traceId: string | undefined;
}

/** Schedules with `schedule` (in the caller's context), runs the worker until RUNS runs, stops the schedule. */
async function runSchedule(
  schedule: (queue: ReturnType<BullMQResources['queue']>) => Promise<unknown>,
  unschedule: (queue: ReturnType<BullMQResources['queue']>) => Promise<unknown>,
  workerOptions: SessionTelemetryOptions = {},
  name = uniqueQueueName('sched'),
) {
  const queue = bull.queue(name, { telemetry: sessionTelemetry() });
  await schedule(queue);
  // The span that created the schedule ended with the call; the worker's own scheduling spans come later.
  const [scheduling] = t.byName(`add ${name}`);
  expect(scheduling).toBeDefined();
  const runs: Run[] = [];
  bull.worker(
    name,
    async (job: Job) => {
      runs.push({ jobId: job.id!, sessionId: getSessionId(), traceId: trace.getActiveSpan()?.spanContext().traceId });
    },
    { telemetry: sessionTelemetry(workerOptions) },
  );
  await waitFor(`${RUNS} runs`, () => runs.length >= RUNS && processSpans(t.spans(), name).length >= RUNS);
  await unschedule(queue);
  const spans = processSpans(t.spans(), name).slice(0, RUNS);
  return { name, scheduling: scheduling!, runs: runs.slice(0, RUNS), spans };
}

function linkedTo(span: ReadableSpan, scheduling: ReadableSpan): boolean {
  return span.links.some(
    (l) => l.context.spanId === scheduling.spanContext().spanId && l.context.traceId === scheduling.spanContext().traceId,
  );
}

const every = { every: 200 };

describe('job schedulers (upsertJobScheduler)', () => {
  it('created inside a session: every run in the session, a child of its root, linked to the scheduling span', async () => {
    const session = startSession({ name: 'nightly' });
    const { scheduling, runs, spans } = await runSchedule(
      (queue) => withSession(session, () => queue.upsertJobScheduler('tick', every, { name: 'tick', data: {} })),
      (queue) => queue.removeJobScheduler('tick'),
    );
    session.end();
    expect(scheduling.spanContext().traceId).toBe(session.id);
    expect(new Set(runs.map((r) => r.jobId)).size).toBe(RUNS);
    expect(runs.every((r) => r.jobId.startsWith('repeat:tick:'))).toBe(true);
    expect(runs.map((r) => [r.sessionId, r.traceId])).toEqual(Array(RUNS).fill([session.id, session.id]));
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(session.id);
      expect(parentSpanId(span)).toBe(session.rootSpanId);
      expect(linkedTo(span, scheduling)).toBe(true);
      expect(span.attributes['agentops.hop.shape']).toBe('rejoin');
    }
  });

  it("'own-trace': every run gets a trace of its own, linked to the scheduling span, outside the session", async () => {
    const session = startSession();
    const { scheduling, runs, spans } = await runSchedule(
      (queue) => withSession(session, () => queue.upsertJobScheduler('tick', every, { name: 'tick' })),
      (queue) => queue.removeJobScheduler('tick'),
      { scheduledRuns: 'own-trace' },
    );
    session.end();
    expect(runs.every((r) => r.sessionId === undefined)).toBe(true);
    const traces = spans.map((s) => s.spanContext().traceId);
    expect(new Set(traces).size).toBe(RUNS);
    expect(traces).not.toContain(session.id);
    for (const span of spans) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(linkedTo(span, scheduling)).toBe(true);
    }
  });

  it('per queue: own-trace for one queue, the session for the others', async () => {
    const session = startSession();
    const own = uniqueQueueName('own');
    const options: SessionTelemetryOptions = { queues: { [own]: { scheduledRuns: 'own-trace' } } };
    const schedule = (queue: ReturnType<BullMQResources['queue']>) =>
      withSession(session, () => queue.upsertJobScheduler('tick', every, { name: 'tick' }));
    const unschedule = (queue: ReturnType<BullMQResources['queue']>) => queue.removeJobScheduler('tick');
    const ownRuns = await runSchedule(schedule, unschedule, options, own);
    const sessionRuns = await runSchedule(schedule, unschedule, options);
    session.end();
    expect(ownRuns.runs.every((r) => r.sessionId === undefined && r.traceId !== session.id)).toBe(true);
    expect(sessionRuns.runs.every((r) => r.sessionId === session.id && r.traceId === session.id)).toBe(true);
  });

  it('created outside any session: every run gets a trace of its own, linked to the scheduling span', async () => {
    const { scheduling, runs, spans } = await runSchedule(
      (queue) => queue.upsertJobScheduler('tick', every, { name: 'tick' }),
      (queue) => queue.removeJobScheduler('tick'),
    );
    expect(runs.every((r) => r.sessionId === undefined)).toBe(true);
    const traces = spans.map((s) => s.spanContext().traceId);
    expect(new Set(traces).size).toBe(RUNS);
    expect(traces).not.toContain(scheduling.spanContext().traceId);
    for (const span of spans) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(linkedTo(span, scheduling)).toBe(true);
    }
  });
});

describe('repeatable jobs (Queue.add with repeat, BullMQ 5)', () => {
  it('created inside a session: every run in the session, linked to the adding span', async () => {
    const session = startSession();
    const { scheduling, runs, spans } = await runSchedule(
      (queue) => withSession(session, () => queue.add('legacy', {}, { repeat: every })),
      (queue) => queue.removeRepeatable('legacy', every),
    );
    session.end();
    expect(runs.every((r) => r.jobId.startsWith('repeat:'))).toBe(true);
    expect(runs.map((r) => r.sessionId)).toEqual(Array(RUNS).fill(session.id));
    for (const span of spans) {
      expect(span.spanContext().traceId).toBe(session.id);
      expect(parentSpanId(span)).toBe(session.rootSpanId);
      expect(linkedTo(span, scheduling)).toBe(true);
    }
  });

  it('created outside any session: runs in traces of their own', async () => {
    const { spans } = await runSchedule(
      (queue) => queue.add('legacy', {}, { repeat: every }),
      (queue) => queue.removeRepeatable('legacy', every),
    );
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(RUNS);
    expect(spans.every((s) => s.parentSpanContext === undefined)).toBe(true);
  });
});
