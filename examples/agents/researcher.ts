/**
 * researcher (kafkajs consumer, batch mode): a batch mixes sessions, so each sub-task runs in its
 * own message's session context, then queues a BullMQ job for the writer.
 */
import { Queue } from 'bullmq';
import { Kafka, logLevel } from 'kafkajs';
import { getSessionId, withAgent, withTool } from 'agentops-propagation';
import { instrumentConsumer } from 'agentops-propagation/kafkajs';
import { sessionTelemetry } from 'agentops-propagation/bullmq';
import { announceReady, llm, onShutdown, requiredEnv, RESEARCH_TOPIC, startTelemetry, WRITER_QUEUE } from './shared.js';

const telemetry = startTelemetry('researcher');
const kafka = new Kafka({ clientId: 'researcher', brokers: requiredEnv('KAFKA_BROKERS').split(','), logLevel: logLevel.ERROR });
const consumer = instrumentConsumer(kafka.consumer({ groupId: 'agentops-demo-researchers', maxWaitTimeInMs: 100 }));
const redis = new URL(requiredEnv('REDIS_URL'));
const queue = new Queue(WRITER_QUEUE, {
  connection: { host: redis.hostname, port: Number(redis.port || 6379) },
  telemetry: sessionTelemetry(),
});

consumer.on(consumer.events.GROUP_JOIN, () => announceReady('researcher'));
await consumer.connect();
await consumer.subscribe({ topics: [RESEARCH_TOPIC], fromBeginning: false });
await consumer.run({
  eachBatch: async ({ batch, withMessageContext, resolveOffset, heartbeat }) => {
    for (const message of batch.messages) {
      await withMessageContext(message, () =>
        withAgent('researcher', async () => {
          const task = JSON.parse(message.value?.toString('utf8') ?? '{}') as { question: string; subtask: number; of: number };
          const sources = await withTool('web-search', async () => [`source-${task.subtask}-a`, `source-${task.subtask}-b`]);
          const notes = await llm(
            'researcher-large',
            `Research sub-task ${task.subtask}/${task.of} of "${task.question}" using ${sources.join(', ')}`,
          );
          await queue.add('write', { question: task.question, subtask: task.subtask, notes, sessionId: getSessionId() });
        }),
      );
      resolveOffset(message.offset);
      await heartbeat();
    }
  },
});
onShutdown(telemetry, async () => {
  await consumer.disconnect();
  await queue.close();
});
