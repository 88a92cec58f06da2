// Broker and worker faults.
//
// Kafka: the broker is SIGKILLed and restarted mid-stream, once while messages are being produced
// and once while they are being consumed, on the same schedule (by message count) for a bare
// kafkajs run and an instrumented one. Idempotent producer, at-least-once consumer (offsets
// committed after every message); every message carries a unique id. Neither run loses a message,
// and the instrumented run duplicates no more than the bare one.
//
// BullMQ: a worker process (sessionTelemetry) is SIGKILLed while it holds a job; once the lock
// expires a second worker takes the stalled job, and the retry runs in the job's session.

import { context, trace } from '@opentelemetry/api';
import { Queue, Worker, type Job } from 'bullmq';
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionTelemetry } from '../../adapters/bullmq/index.js';
import { instrumentConsumer, instrumentProducer } from '../../adapters/kafkajs/index.js';
import { getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { connection, uniqueQueueName, waitFor as waitForJob } from '../bullmq/helpers.js';
import { crashBroker, restartBroker } from '../helpers/broker.js';
import { helperPath, startScript } from '../helpers/child.js';
import { setupTracing, type TestTracing } from '../helpers/otel.js';
import { report } from '../helpers/report.js';
import { createTopics, fastConsumerConfig, kafkaClient, waitFor } from '../kafka/helpers.js';

let t: TestTracing;
let kafka: Kafka;
beforeAll(() => {
  t = setupTracing();
  kafka = kafkaClient();
});
afterAll(async () => {
  // Whatever happened, leave a broker running for whoever runs next.
  await restartBroker();
  await t.shutdown();
});

const MESSAGES = 1200;
const PER_SEND = 10;
/** The kill schedule, the same for both runs: after this many messages were acknowledged... */
const CRASH_AFTER_PRODUCED = 400;
/** ...and when the consumer is handed the message with this id. */
const CRASH_AT_CONSUMED = 800;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one run delivered. */
interface RunFigures {
  /** Messages produced (distinct ids). */
  produced: number;
  /** Distinct ids delivered to the handler. */
  delivered: number;
  /** Deliveries beyond one per id (redeliveries and duplicates in the log). */
  duplicates: number;
  /** Ids stored more than once in the log (distinct offsets). */
  duplicatedInLog: number;
  /** Sends the application had to repeat because kafkajs gave up. */
  resends: number;
  /** Instrumented run only: deliveries handled outside the session the message was sent in. */
  outOfSession: number;
  crashes: number;
}

async function faultRun(instrumented: boolean): Promise<RunFigures> {
  const [topic] = (await createTopics(kafka, 1, 1)) as [string];
  const sessions: Session[] = instrumented ? Array.from({ length: 12 }, (_, i) => startSession({ name: `fault-${i}` })) : [];
  const bare = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 100, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const producer: Producer = instrumented ? instrumentProducer(bare) : bare;
  let crashes = 0;
  let resends = 0;
  const restarts: Promise<void>[] = [];

  await producer.connect();
  for (let first = 0; first < MESSAGES; first += PER_SEND) {
    const session = sessions[(first / PER_SEND) % Math.max(1, sessions.length)];
    const messages = Array.from({ length: PER_SEND }, (_, k) => ({
      key: String(first + k),
      value: JSON.stringify({ id: first + k, sid: session?.id ?? null }),
    }));
    const send = () => producer.send({ topic, messages });
    for (;;) {
      try {
        await (session === undefined ? send() : withSession(session, send));
        break;
      } catch {
        // At-least-once at the application level: what kafkajs gave up on is sent again.
        resends++;
        await sleep(500);
      }
    }
    if (first + PER_SEND === CRASH_AFTER_PRODUCED) {
      await crashBroker();
      crashes++;
      restarts.push(restartBroker());
    }
  }
  await Promise.all(restarts);
  await producer.disconnect();

  const deliveries = new Map<number, number>();
  const offsets = new Map<number, Set<string>>();
  let outOfSession = 0;
  const consumerRetry = { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 };
  const bareConsumer = kafka.consumer({ ...fastConsumerConfig(), retry: consumerRetry });
  const consumer = instrumented ? instrumentConsumer(bareConsumer) : bareConsumer;
  let crashed = false;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommitThreshold: 1,
    eachMessage: async ({ message }) => {
      const { id, sid } = JSON.parse(message.value!.toString('utf8')) as { id: number; sid: string | null };
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      const seen = offsets.get(id) ?? new Set<string>();
      seen.add(message.offset);
      offsets.set(id, seen);
      if (instrumented && (getSessionId() !== sid || trace.getSpan(context.active())?.spanContext().traceId !== sid)) outOfSession++;
      if (!crashed && id === CRASH_AT_CONSUMED) {
        // Crashed while this message is being handled: its offset cannot be committed.
        crashed = true;
        await crashBroker();
        crashes++;
        restarts.push(restartBroker());
      }
    },
  });
  await waitFor('every message delivered', () => deliveries.size === MESSAGES, 300_000);
  await Promise.all(restarts);
  await consumer.disconnect();
  for (const session of sessions) session.end();

  const total = [...deliveries.values()].reduce((a, b) => a + b, 0);
  return {
    produced: MESSAGES,
    delivered: deliveries.size,
    duplicates: total - deliveries.size,
    duplicatedInLog: [...offsets.values()].filter((s) => s.size > 1).length,
    resends,
    outOfSession,
    crashes,
  };
}

describe('Kafka broker SIGKILLed and restarted mid-stream, same schedule for a bare and an instrumented run', () => {
  it('neither run loses a message; the instrumented run duplicates no more than the bare one and stays in its sessions', async () => {
    const bare = await faultRun(false);
    const instrumented = await faultRun(true);
    report('kafka broker crashes', { bare, instrumented });
    for (const run of [bare, instrumented]) {
      expect(run.crashes).toBe(2);
      expect(run.delivered).toBe(MESSAGES);
    }
    expect(instrumented.duplicates).toBeLessThanOrEqual(bare.duplicates);
    expect(instrumented.duplicatedInLog).toBeLessThanOrEqual(bare.duplicatedInLog);
    expect(instrumented.outOfSession).toBe(0);
    // The sessions survived the crashes: every process span of a redelivered message is in its session too.
    const spans = t.spans().filter((s) => s.name.startsWith('process topic-'));
    expect(spans.length).toBe(MESSAGES + instrumented.duplicates);
    expect(spans.every((s) => s.attributes['session.id'] === s.spanContext().traceId)).toBe(true);
  });
});

describe('BullMQ worker process SIGKILLed mid-job', () => {
  it('a second worker takes the stalled job after the lock expires; the retry runs in the job session', async () => {
    const name = uniqueQueueName('stalled');
    const telemetry = sessionTelemetry();
    const queue = new Queue(name, { connection: connection(), telemetry });
    const session = startSession({ name: 'stalled-job' });
    const job = await withSession(session, () => queue.add('long', { n: 1 }, { attempts: 1 }));

    // The first worker, in its own process: it announces the job and then hangs on it.
    const child = startScript(helperPath('hanging-worker.ts'), [name]);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await waitFor(`the child worker to take job ${job.id}`, () => output.includes(`PROCESSING ${job.id} ${session.id}`), 60_000);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const retries: { id: string | undefined; session: string | undefined; traceId: string | undefined; attemptsStarted: number }[] = [];
    const worker = new Worker(
      name,
      async (j: Job) => {
        retries.push({
          id: j.id,
          session: getSessionId(),
          traceId: trace.getActiveSpan()?.spanContext().traceId,
          attemptsStarted: j.attemptsStarted,
        });
        return 'done';
      },
      { connection: connection(), telemetry, lockDuration: 2000, stalledInterval: 1000 },
    );
    worker.on('error', () => undefined);
    try {
      await waitForJob(
        'the stalled job to be retried',
        () => retries.length > 0 && t.spans().some((s) => s.name === `process ${name}` && s.attributes['bullmq.job.id'] === job.id),
        60_000,
      );
      expect(retries).toEqual([{ id: job.id, session: session.id, traceId: session.id, attemptsStarted: 2 }]);
      const processSpan = t.spans().find((s) => s.name === `process ${name}`)!;
      expect(processSpan.attributes['session.id']).toBe(session.id);
      expect(processSpan.spanContext().traceId).toBe(session.id);
      expect(await queue.getJobState(job.id!)).toBe('completed');
      report('bullmq worker killed mid-job', {
        workerKilled: 1,
        stalledJobsRetried: retries.length,
        retryInSession: retries[0]!.session === session.id,
      });
    } finally {
      session.end();
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
