/**
 * `agentops-propagation/kafkajs`: Kafka hops for kafkajs. Producers carry the W3C context and
 * the AgentOps session in copies of the messages; consumers join the producer's session in
 * eachMessage, and per message in eachBatch through `withMessageContext`.
 */
export { instrumentProducer } from './producer.js';
export {
  instrumentConsumer,
  type InstrumentedConsumer,
  type InstrumentedConsumerRunConfig,
  type InstrumentedEachBatchPayload,
} from './consumer.js';
export { withMessageContext } from './message-context.js';
export type { InstrumentConsumerOptions, InstrumentProducerOptions, KafkaInboundMessage, KafkaTopicPolicy } from './options.js';
export { kafkaHeaderGetter, kafkaHeaderSetter, type KafkaHeaders, type KafkaHeaderValue } from '../../src/carriers/kafka.js';
