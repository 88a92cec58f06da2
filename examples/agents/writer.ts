/** writer (BullMQ worker): writes up a sub-task and reports to the gateway over HTTP. */
import { Worker, type Job } from 'bullmq';
import { withAgent } from 'agentops-propagation';
import { sessionTelemetry, withJobContext } from 'agentops-propagation/bullmq';
import { sessionFetch } from 'agentops-propagation/http';
import { announceReady, llm, onShutdown, requiredEnv, startTelemetry, WRITER_QUEUE } from './shared.js';

const telemetry = startTelemetry('writer');
const gatewayUrl = requiredEnv('GATEWAY_URL');
const redis = new URL(requiredEnv('REDIS_URL'));
// DEMO_BREAK_HOP=writer-callback reports back with plain fetch: the session is lost on that hop,
// and the demo's check must notice (test/example runs it so).
const report = process.env.DEMO_BREAK_HOP === 'writer-callback' ? fetch : sessionFetch();

// withJobContext beside sessionTelemetry starts no second span: it has the job at hand, so it
// measures the job's wait (BullMQ hands its telemetry no job).
const worker = new Worker(
  WRITER_QUEUE,
  withJobContext(async (job: Job) =>
    withAgent('writer', async () => {
      const { question, subtask, notes } = job.data as { question: string; subtask: number; notes: string; sessionId: string };
      const text = await llm('writer-large', `Write section ${subtask} for "${question}" from: ${notes}`);
      const response = await report(`${gatewayUrl}/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subtask, text, sessionId: job.data.sessionId }),
      });
      if (!response.ok) throw new Error(`gateway answered ${response.status}`);
      return { subtask };
    }),
  ),
  {
    connection: { host: redis.hostname, port: Number(redis.port || 6379), maxRetriesPerRequest: null },
    telemetry: sessionTelemetry(),
    concurrency: 4,
  },
);

await worker.waitUntilReady();
announceReady('writer');
onShutdown(telemetry, () => worker.close());
