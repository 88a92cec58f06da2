/** Kafka scenario (orchestrator side): bare kafkajs, ours, instrumentation-kafkajs, alternately. */
import { alternate } from '../lib/alternate.js';
import type { ScenarioResult } from '../lib/report.js';
import { throughputTable } from '../lib/throughput.js';

/** Settings of the Kafka scenario. */
export interface KafkaSettings {
  node: string;
  rounds: number;
  messages: number;
  batchSize: number;
  /** Extra Node flags for the workers. */
  nodeFlags: string[];
  log(message: string): void;
}

const CONFIGS = ['bare', 'ours', 'contrib'] as const;
const LABELS: Record<string, string> = {
  bare: 'bare kafkajs 2.2.4',
  ours: 'ours: instrumentProducer / instrumentConsumer',
  contrib: 'contrib: @opentelemetry/instrumentation-kafkajs',
};
const METRICS: Record<string, string> = {
  produce: 'producer msgs/s',
  eachMessage: 'consumer eachMessage msgs/s',
  eachBatch: 'consumer eachBatch msgs/s',
};

export async function runKafka(settings: KafkaSettings): Promise<ScenarioResult> {
  settings.log(`kafka: ${settings.rounds} rounds x ${CONFIGS.length} configurations, ${settings.messages} messages per round`);
  const result = await alternate({
    node: settings.node,
    script: 'bench/scenarios/kafka-worker.ts',
    configs: CONFIGS,
    rounds: settings.rounds,
    warmupRounds: 1,
    roundArgs: { messages: settings.messages, batchSize: settings.batchSize },
    log: settings.log,
    label: 'kafka',
    nodeFlags: settings.nodeFlags,
  });
  const { rows, checks } = throughputTable(result, { name: 'kafka', configs: CONFIGS, labels: LABELS, metrics: METRICS, barMetrics: Object.keys(METRICS) });
  return {
    title: 'Kafka (real broker): messages/s',
    notes: [
      `${settings.rounds} rounds (after one warm-up round) per configuration, alternating; each round: a new one-partition topic, ${settings.messages} messages of ~100 bytes sent in send() calls of ${settings.batchSize}, then read by a new consumer group with eachMessage and another with eachBatch`,
      'consumer rate from the first message handed to the handler to the last; ours sends inside a session, contrib inside an active span, and ours runs each eachBatch message through withMessageContext (a CONSUMER span per message)',
      'each configuration in its own process (instrumentation-kafkajs patches kafkajs when it is required); broker on the same 2 cores, not pinned',
    ],
    table: { columns: ['metric', 'configuration', 'span processor', 'median (min..max)', 'vs bare', 'vs contrib', 'µs added per message'], rows },
    checks,
    data: result,
  };
}
