// Session integrity under concurrency, long run: a thousand sessions in flight at once through
// HTTP (Express) -> Kafka eachMessage -> Kafka eachBatch -> BullMQ -> HTTP (Fastify), every span
// counted (the pipeline and its checks: test/helpers/session-pipeline.ts).

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

const SESSIONS = 1000;

describe(`${SESSIONS} sessions in flight at once through HTTP -> Kafka (eachMessage, eachBatch) -> BullMQ -> HTTP`, () => {
  it('every stage runs once per session, in that session; every span is in its own session trace; exact counts', async () => {
    const run = await runSessionPipeline({ kafka, sessions: SESSIONS, spans: () => t.spans(), partitions: 4 });
    expect(pipelineProblems(run)).toEqual([]);
    expect(sessionTraceProblems(run)).toEqual([]);
    const counts = stageCounts(run);
    for (const stage of STAGES) expect(counts[stage], stage).toEqual({ runs: SESSIONS, sessions: SESSIONS });
    const perSession = expectedSessionSpans(run, 'agent-0').length;
    const inSessions = run.spans.filter((s) => s.attributes['session.id'] !== undefined).length;
    expect(inSessions).toBe(SESSIONS * perSession);
    report('concurrency (long)', {
      sessions: SESSIONS,
      hopsPerSession: 5,
      spansPerSession: perSession,
      spansInSessions: inSessions,
      spansTotal: run.spans.length,
      eachBatchSpans: run.spans.filter((s) => s.attributes['messaging.batch.message_count'] !== undefined).length,
    });
  });
});
