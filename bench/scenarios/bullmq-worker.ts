/**
 * One BullMQ configuration, in a process of its own (each has its own global tracer provider):
 *
 *   bullmq-worker.ts <bare|ours|contrib>
 *
 * Each `round` command: a new queue and a Worker (concurrency `concurrency`, a no-op processor);
 * `jobs` jobs added with addBulk in chunks of 100 while the worker runs; measured: jobs/s from the
 * first add to the last completion, and the addBulk rate.
 */
import { trace } from '@opentelemetry/api';
import { Queue, Worker, type ConnectionOptions, type Telemetry } from 'bullmq';
import { BullMQOtel } from 'bullmq-otel';
import type { Session } from '../../src/index.js';
import { lib } from '../lib/build.js';
import { contribTracing, oursTracing, type Tracing } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const config = process.argv[2] as string;

function connection(): ConnectionOptions {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null, ...(url.password ? { password: decodeURIComponent(url.password) } : {}) };
}

async function main(): Promise<void> {
  if (!['bare', 'ours', 'contrib'].includes(config)) throw new Error('usage: bullmq-worker.ts <bare|ours|contrib>');
  const { sessionTelemetry } = await lib('bullmq');
  const { startSession, withSession } = await lib('index');
  let tracing: Tracing | undefined;
  let telemetry: Telemetry | undefined;
  if (config === 'ours') {
    tracing = await oursTracing();
    telemetry = sessionTelemetry() as Telemetry;
  }
  if (config === 'contrib') {
    tracing = contribTracing();
    telemetry = new BullMQOtel('bench') as unknown as Telemetry;
  }
  const session: Session | undefined = config === 'ours' ? startSession({ name: 'bench' }) : undefined;
  const inContext = <T>(fn: () => Promise<T>): Promise<T> => {
    if (session !== undefined) return withSession(session, fn);
    if (config === 'contrib') return trace.getTracer('bench').startActiveSpan('session', (span) => fn().finally(() => span.end()));
    return fn();
  };
  let seq = 0;

  serve(
    {
      async round(args) {
        const jobs = Number(args.jobs);
        const concurrency = Number(args.concurrency);
        const name = `bench-${config}-${process.pid}-${seq++}`;
        const queue = new Queue(name, { connection: connection(), ...(telemetry ? { telemetry } : {}) });
        let completed = 0;
        let allDone!: () => void;
        const finished = new Promise<void>((resolve) => (allDone = resolve));
        const worker = new Worker(name, async () => undefined, { connection: connection(), concurrency, ...(telemetry ? { telemetry } : {}) });
        worker.on('completed', () => {
          if (++completed === jobs) allDone();
        });
        worker.on('failed', (_job, err) => {
          throw err;
        });
        await queue.waitUntilReady();
        await worker.waitUntilReady();
        const data = { task: 'write', topic: 'otters and their tools', padding: 'x'.repeat(40) };
        const t0 = performance.now();
        await inContext(async () => {
          for (let i = 0; i < jobs; i += 100) {
            const n = Math.min(100, jobs - i);
            await queue.addBulk(Array.from({ length: n }, () => ({ name: 'job', data, opts: { removeOnComplete: true } })));
          }
        });
        const added = performance.now();
        await finished;
        const t1 = performance.now();
        await worker.close();
        await queue.obliterate({ force: true });
        await queue.close();
        return { endToEnd: (jobs / (t1 - t0)) * 1000, add: (jobs / (added - t0)) * 1000 };
      },
      async stats() {
        await tracing?.flush();
        return { exported: tracing?.exported() ?? 0 };
      },
    },
    { processor: tracing?.processor ?? 'none', pid: process.pid },
    async () => {
      session?.end();
      await tracing?.shutdown();
    },
  );
}

main().catch(fatal);
