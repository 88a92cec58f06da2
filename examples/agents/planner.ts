/** planner (Fastify): splits a research request into sub-tasks, one Kafka message each. */
import Fastify from 'fastify';
import { Kafka, logLevel } from 'kafkajs';
import { getSessionId, withAgent } from 'agentops-propagation';
import { sessionPlugin } from 'agentops-propagation/fastify';
import { instrumentProducer } from 'agentops-propagation/kafkajs';
import { announceReady, llm, onShutdown, requiredEnv, RESEARCH_TOPIC, startTelemetry } from './shared.js';

const telemetry = startTelemetry('planner');
const kafka = new Kafka({ clientId: 'planner', brokers: requiredEnv('KAFKA_BROKERS').split(','), logLevel: logLevel.ERROR });
const producer = instrumentProducer(kafka.producer());
const SUBTASKS = 3;

const app = Fastify();
await app.register(sessionPlugin);

app.post('/plan', async (request) => {
  const { question, brief } = request.body as { question: string; brief: string };
  return withAgent('planner', async () => {
    const plan = await llm('planner-large', `Split into ${SUBTASKS} sub-tasks: ${brief}`);
    const messages = Array.from({ length: SUBTASKS }, (_, i) => ({
      key: `${getSessionId()}-${i}`,
      value: JSON.stringify({ question, subtask: i + 1, of: SUBTASKS, plan }),
    }));
    await producer.send({ topic: RESEARCH_TOPIC, messages });
    return { subtasks: SUBTASKS };
  });
});

await producer.connect();
await app.listen({ port: Number(requiredEnv('PLANNER_PORT')), host: '127.0.0.1' });
announceReady('planner');
onShutdown(telemetry, async () => {
  await app.close();
  await producer.disconnect();
});
