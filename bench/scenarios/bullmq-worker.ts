/**
 * One BullMQ configuration, in a process of its own (each has its own global tracer provider):
 *
 *   bullmq-worker.ts <bare|hand|ours|ours-metrics|contrib>
 *
 * Each `round` command: a new queue and a Worker (concurrency `concurrency`, a no-op processor);
 * `jobs` jobs added with addBulk in chunks of 10 while the worker runs, each chunk from the next
 * of `sessions` sessions. Measured: this process's CPU µs per job from the first add to the last
 * completion (Queue and Worker both live here; Redis is another process).
 */
import { Queue, Worker, type ConnectionOptions, type Job, type Telemetry } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import { referenceJobData, referenceProcessor } from '../reference/bullmq.js';
import { agentSessions, sessionMakerOf } from '../lib/agent-sessions.js';
import { settledHeap } from '../lib/heap.js';
import { oursTracing, sdkTracing, type Tracing } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const config = process.argv[2] as string;
const CHUNK = 10;

function connection(): ConnectionOptions {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    maxRetriesPerRequest: null,
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

async function setUp(): Promise<{ tracing: Tracing | undefined; telemetry: Telemetry | undefined }> {
  if (config === 'ours' || config === 'ours-metrics') {
    const tracing = await oursTracing({ metrics: config === 'ours-metrics' });
    const { sessionTelemetry } = await import('agentops-propagation/bullmq');
    return { tracing, telemetry: sessionTelemetry() as Telemetry };
  }
  if (config === 'contrib') return { tracing: sdkTracing(), telemetry: new BullMQOtel('bench') as unknown as Telemetry };
  if (config === 'hand') return { tracing: sdkTracing(), telemetry: undefined };
  if (config !== 'bare') throw new Error('usage: bullmq-worker.ts <bare|hand|ours|ours-metrics|contrib>');
  return { tracing: undefined, telemetry: undefined };
}

async function main(): Promise<void> {
  const { tracing, telemetry } = await setUp();
  const withTelemetry = telemetry !== undefined ? { telemetry } : {};
  const noop = async (_job: Job) => undefined;
  const processor = config === 'hand' ? referenceProcessor(noop) : noop;
  const jobData: (data: object) => object = config === 'hand' ? referenceJobData : (data) => data;
  let seq = 0;
  let handled = 0;

  serve(
    {
      async round(args) {
        const jobs = Number(args.jobs);
        const sessions = await agentSessions(sessionMakerOf(config), Number(args.sessions));
        const name = `bench-${config}-${process.pid}-${seq++}`;
        const queue = new Queue(name, { connection: connection(), ...withTelemetry });
        let completed = 0;
        let allDone!: () => void;
        const finished = new Promise<void>((resolve) => (allDone = resolve));
        const worker = new Worker(name, processor as never, {
          connection: connection(),
          concurrency: Number(args.concurrency),
          ...withTelemetry,
        });
        worker.on('completed', () => {
          if (++completed === jobs) allDone();
        });
        worker.on('failed', (_job, err) => {
          throw err;
        });
        await queue.waitUntilReady();
        await worker.waitUntilReady();
        const data = { task: 'write', topic: 'otters and their tools', padding: 'x'.repeat(40) };
        const c0 = process.cpuUsage();
        for (let i = 0; i < jobs; i += CHUNK) {
          await sessions.run(i / CHUNK, () =>
            queue.addBulk(
              Array.from({ length: Math.min(CHUNK, jobs - i) }, () => ({
                name: 'job',
                data: jobData(data),
                opts: { removeOnComplete: true },
              })),
            ),
          );
        }
        await finished;
        const cpu = process.cpuUsage(c0);
        sessions.end();
        await worker.close();
        await queue.obliterate({ force: true });
        await queue.close();
        handled += jobs;
        return { endToEnd: (cpu.user + cpu.system) / jobs };
      },
      async heap() {
        return { heapBytes: await settledHeap(async () => tracing?.flush()), items: handled };
      },
      async stats() {
        await tracing?.flush();
        return { exported: tracing?.exported() ?? 0 };
      },
    },
    { processor: tracing?.processor ?? 'none', pid: process.pid },
    () => tracing?.shutdown(),
  );
}

main().catch(fatal);
