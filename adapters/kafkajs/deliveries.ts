/**
 * What a kafkajs consumer measures of the messages it delivers: one `messaging.client.consumed.messages`
 * each, and each one's wait from its timestamp to the consumer's hop.
 */
import type { KafkaMessage } from 'kafkajs';
import { measuring } from '../../src/metrics/instruments.js';
import { consumerAttributes, recordConsumed, recordWait, type WaitClock } from '../../src/metrics/messaging.js';

/**
 * Whose clock stamped a message: kafkajs decodes a record batch's timestamp type (the topic's
 * `message.timestamp.type`) into the batch context it leaves on each message, outside its types.
 * A message without it (an old message format) says nothing about its clock.
 */
function clockOf(message: KafkaMessage): WaitClock {
  const type = (message as { batchContext?: { timestampType?: unknown } }).batchContext?.timestampType;
  return type === 1 ? 'log_append_time' : type === 0 ? 'create_time' : 'unknown';
}

/** Records the delivery of `messages` of `topic` to consumer group `group` (all at the consumer's clock now). */
export function recordDeliveries(topic: string, group: string | undefined, messages: readonly KafkaMessage[]): void {
  if (!measuring()) return;
  const now = Date.now();
  recordConsumed(consumerAttributes('kafka', 'process', topic, group), messages.length);
  for (const message of messages) {
    const timestamp = typeof message?.timestamp === 'string' ? Number(message.timestamp) : NaN;
    recordWait('kafka', topic, clockOf(message), undefined, timestamp, now);
  }
}
