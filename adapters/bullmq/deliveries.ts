/**
 * What the BullMQ adapter measures of the jobs it runs: one `messaging.client.consumed.messages`
 * per job hop, and, where the job itself is at hand (`withJobContext`), its wait.
 */
import { measuring } from '../../src/metrics/instruments.js';
import { consumerAttributes, recordConsumed, recordWait } from '../../src/metrics/messaging.js';

/** Counts one job of `queueName` delivered to the application. */
export function recordJobDelivered(queueName: string, operation: string): void {
  if (!measuring()) return;
  recordConsumed(consumerAttributes('bullmq', operation, queueName === '' ? undefined : queueName, undefined), 1);
}

/**
 * Records the wait of one attempt of `job`: from its timestamp (the producer's clock when it was
 * added) plus the delay it asked for, to now. BullMQ keeps no record of when a retry became due
 * (its backoff is stored, not when it started), so a retry's wait runs from the same point, the
 * job first becoming due, and is marked `retry` to keep first attempts' waits apart.
 */
export function recordJobWait(job: { queueName?: unknown; timestamp?: unknown; attemptsMade?: unknown; opts?: unknown }): void {
  if (!measuring()) return;
  const timestamp = typeof job.timestamp === 'number' ? job.timestamp : NaN;
  const requested = typeof job.opts === 'object' && job.opts !== null ? (job.opts as { delay?: unknown }).delay : undefined;
  const delay = typeof requested === 'number' && Number.isFinite(requested) && requested > 0 ? requested : 0;
  const attempt = typeof job.attemptsMade === 'number' && job.attemptsMade > 0 ? 'retry' : 'first';
  const queue = typeof job.queueName === 'string' && job.queueName !== '' ? job.queueName : undefined;
  recordWait('bullmq', queue, 'job_timestamp', attempt, timestamp + delay, Date.now());
}
