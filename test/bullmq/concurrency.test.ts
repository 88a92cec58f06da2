// Many sessions through one queue at once, processed concurrently: no job, and no span, lands in
// another session.

import { trace } from '@opentelemetry/api';
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { useTracing } from '../helpers/otel.js';
import { BullMQResources, processSpans, uniqueQueueName, waitFor } from './helpers.js';

const bull = new BullMQResources();
const t = useTracing({ afterEach: () => bull.close() });

const SESSIONS = 100;

describe('many concurrent sessions through one queue', () => {
  it.each([
    ['parent', undefined],
    ['rejoin', 'rejoin' as const],
  ])('%s: every job runs in the session that added it, every span in that session trace', async (_shape, shape) => {
    const name = uniqueQueueName('busy');
    const producerTelemetry = sessionTelemetry();
    const queue = bull.queue(name, { telemetry: producerTelemetry });
    const sessions: Session[] = Array.from({ length: SESSIONS }, (_, i) => startSession({ name: `agent-${i}` }));
    const jobSession = new Map<string, string>();
    // Two jobs per session, added concurrently from all sessions.
    await Promise.all(
      sessions.flatMap((session) =>
        [0, 1].map(async (n) => {
          const job = await withSession(session, () => queue.add(`job-${n}`, { n }));
          jobSession.set(job.id!, session.id);
        }),
      ),
    );

    const seen = new Map<string, { sessionId: string | undefined; traceIds: string[] }>();
    const tracer = trace.getTracer('app');
    bull.worker(
      name,
      async (job: Job) => {
        const traceIds: string[] = [];
        // Interleave on purpose: awaits, nested spans, timers.
        for (let step = 0; step < 3; step++) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          await tracer.startActiveSpan(`step ${step}`, async (span) => {
            traceIds.push(span.spanContext().traceId);
            await new Promise((resolve) => setImmediate(resolve));
            span.end();
          });
        }
        seen.set(job.id!, { sessionId: getSessionId(), traceIds });
      },
      { telemetry: sessionTelemetry(shape === undefined ? {} : { shape }), concurrency: 25 },
    );
    await waitFor('every job', () => seen.size === 2 * SESSIONS && processSpans(t.spans(), name).length === 2 * SESSIONS, 60_000);
    for (const session of sessions) session.end();

    for (const [jobId, { sessionId, traceIds }] of seen) {
      const expected = jobSession.get(jobId);
      expect(sessionId, `job ${jobId}`).toBe(expected);
      expect(traceIds).toEqual([expected, expected, expected]);
    }
    const byTrace = new Map(sessions.map((s) => [s.id, s]));
    for (const span of processSpans(t.spans(), name)) {
      const jobId = span.attributes['bullmq.job.id'] as string;
      expect(span.spanContext().traceId).toBe(jobSession.get(jobId));
      expect(span.attributes['session.id']).toBe(jobSession.get(jobId));
      if (shape === 'rejoin') expect(span.parentSpanContext?.spanId).toBe(byTrace.get(jobSession.get(jobId)!)!.rootSpanId);
    }
    // Every span that claims a session is in that session's trace.
    for (const span of t.spans()) {
      const claimed = span.attributes['session.id'];
      if (claimed !== undefined) expect(span.spanContext().traceId).toBe(claimed);
    }
    expect(t.spans().filter((s) => s.name.startsWith('step ')).length).toBe(3 * 2 * SESSIONS);
  });
});
