// Session integrity under concurrency (the quick run; test/long/concurrency.test.ts sends 500):
// a hundred sessions in flight at once through HTTP (Express) -> Kafka eachMessage -> Kafka
// eachBatch -> BullMQ -> HTTP (Fastify), every span counted.

import type { Kafka } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { kafkaClient } from '../kafka/helpers.js';
import { useTracing } from '../helpers/otel.js';
import { report } from '../helpers/report.js';
import {
  expectedSessionSpans,
  pipelineProblems,
  runSessionPipeline,
  sessionTraceProblems,
  stageCounts,
  STAGES,
} from '../helpers/session-pipeline.js';

const t = useTracing({ resetEach: false });
let kafka: Kafka;
beforeAll(() => {
  kafka = kafkaClient();
});

const SESSIONS = 100;

describe(`${SESSIONS} sessions in flight at once through HTTP -> Kafka (eachMessage, eachBatch) -> BullMQ -> HTTP`, () => {
  it('every stage runs once per session, in that session; every span is in its own session trace; exact counts', async () => {
    const run = await runSessionPipeline({ kafka, sessions: SESSIONS, spans: () => t.spans() });
    expect(pipelineProblems(run)).toEqual([]);
    expect(sessionTraceProblems(run)).toEqual([]);
    const counts = stageCounts(run);
    for (const stage of STAGES) expect(counts[stage], stage).toEqual({ runs: SESSIONS, sessions: SESSIONS });
    const perSession = expectedSessionSpans(run, 'agent-0').length;
    expect(run.spans.filter((s) => s.attributes['session.id'] !== undefined)).toHaveLength(SESSIONS * perSession);
    report('concurrency', { sessions: SESSIONS, spansPerSession: perSession, spansTotal: run.spans.length });
  });
});
