/** Kafka scenario (orchestrator side): bare kafkajs, the reference, ours, instrumentation-kafkajs. */
import { runMessaging, type MessagingSettings } from '../lib/messaging-scenario.js';
import type { ScenarioResult } from '../lib/report.js';

/** Settings of the Kafka scenario. */
export interface KafkaSettings extends MessagingSettings {
  messages: number;
  batchSize: number;
}

export function runKafka(settings: KafkaSettings): Promise<ScenarioResult> {
  return runMessaging(settings, {
    name: 'kafka',
    title: 'Kafka (real broker): CPU per message',
    script: 'bench/scenarios/kafka-worker.ts',
    unit: 'message',
    labels: {
      bare: 'bare kafkajs 2.2.4',
      hand: 'hand-written reference: one PRODUCER span per send, one CONSUMER span per message (bench/reference/kafka.ts)',
      ours: 'ours: instrumentProducer / instrumentConsumer (eachBatch: withMessageContext)',
      'ours-metrics': 'ours, metrics on (a collecting MetricReader)',
      contrib: 'contrib: @opentelemetry/instrumentation-kafkajs',
    },
    metrics: { produce: 'producer', eachMessage: 'consumer eachMessage', eachBatch: 'consumer eachBatch' },
    roundArgs: { messages: settings.messages, batchSize: settings.batchSize },
    notes: [
      `each round: a new one-partition topic, ${settings.messages} messages of ~100 bytes sent in send() calls of ${settings.batchSize}, each call from the next of ${settings.sessions} sessions (a root span with the session baggage entry for the SDK rows), then read by a new consumer group with eachMessage and another with eachBatch`,
      'consumer CPU from the first message handed to the handler to the last; the broker on the same machine, unpinned',
    ],
    contribTargets: { produce: 0.6, eachMessage: 0.6 },
    handTargets: { eachBatch: 1.1 },
  });
}
