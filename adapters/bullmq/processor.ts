import { context as otelContext, SpanKind, type Attributes } from '@opentelemetry/api';
import { parseJobMetadata } from '../../src/carriers/job-metadata.js';
import { guard, log } from '../../src/base/diag.js';
import { runInboundHop } from '../../src/hop/run.js';
import { type InboundHopOptions } from '../../src/hop/types.js';
import { recordJobDelivered, recordJobWait } from './deliveries.js';
import { addAttributes, ATTEMPT_ATTRIBUTE, BULLMQ_ATTR, isScheduledJobId, jobIdOf, operationOf } from './attributes.js';
import { JOB_HOP_KEY, jobHopOf, jobHopOptions, type JobHopMark } from './inbound.js';
import { bullmqSettings, type BullMQSettings, type JobContextOptions } from './options.js';

/**
 * The parts of a job the wrapper reads: a BullMQ `Job`, or the plain job a sandboxed processor
 * receives (whose options are in BullMQ's stored encoding, telemetry metadata under `tm`).
 */
export interface ProcessableJob {
  /** Job id. */
  id?: string | undefined;
  /** Job name. */
  name?: string;
  /** Queue the job belongs to. */
  queueName: string;
  /** Attempts finished before this one. */
  attemptsMade?: number;
  /** Set on runs of a job scheduler or repeatable job. */
  repeatJobKey?: string | undefined;
  /** Job options, as BullMQ hands them to the processor. */
  opts?: unknown;
}

function storedMetadata(opts: unknown): unknown {
  if (typeof opts !== 'object' || opts === null) return undefined;
  const telemetry = (opts as { telemetry?: unknown }).telemetry;
  if (typeof telemetry === 'object' && telemetry !== null && 'metadata' in telemetry) return (telemetry as { metadata?: unknown }).metadata;
  return (opts as { tm?: unknown }).tm;
}

function hopOptions(job: ProcessableJob, settings: BullMQSettings): InboundHopOptions<unknown> {
  const queueName = typeof job.queueName === 'string' ? job.queueName : '';
  const jobId = jobIdOf(job.id);
  const jobName = typeof job.name === 'string' ? job.name : undefined;
  const scheduled = isScheduledJobId(jobId) || (typeof job.repeatJobKey === 'string' && job.repeatJobKey.length > 0);
  const operation = operationOf(queueName, 'process');
  const attributes: Attributes = {};
  addAttributes(attributes, operation?.attributes);
  if (jobId !== undefined) {
    attributes['messaging.message.id'] = jobId;
    attributes[BULLMQ_ATTR.jobId] = jobId;
  }
  if (jobName !== undefined) attributes[BULLMQ_ATTR.jobName] = jobName;
  const attemptsMade = job.attemptsMade;
  if (typeof attemptsMade === 'number' && Number.isInteger(attemptsMade) && attemptsMade >= 0)
    attributes[ATTEMPT_ATTRIBUTE] = attemptsMade + 1;
  const options = jobHopOptions(
    { queueName, jobId, jobName, scheduled },
    parseJobMetadata(storedMetadata(job.opts)),
    settings.forQueue(queueName),
    {
      name: operation?.spanName ?? 'process',
      kind: SpanKind.CONSUMER,
      attributes,
      propagator: settings.propagator,
    },
  );
  const mark: JobHopMark = { queueName, jobId };
  return { ...options, parentContext: otelContext.active().setValue(JOB_HOP_KEY, mark) } as InboundHopOptions<unknown>;
}

/**
 * Wraps a processor so that it, and everything it awaits, runs in the session of the job, with a
 * CONSUMER span `process <queue>`: for workers whose `telemetry` option cannot do it (sandboxed
 * processors: wrap the function the processor file exports; workers without `sessionTelemetry`).
 * Inside a worker that has `sessionTelemetry`, it adds nothing. Errors of the processor are
 * rethrown unchanged; BullMQ sees the processor's own arity.
 */
export function withJobContext<J extends ProcessableJob, Rest extends unknown[], R>(
  processor: (job: J, ...rest: Rest) => R | PromiseLike<R>,
  options?: JobContextOptions,
): (job: J, ...rest: Rest) => Promise<Awaited<R>> {
  if (typeof processor !== 'function') throw new TypeError('agentops-propagation: withJobContext needs a processor function');
  const settings = bullmqSettings(options, 'withJobContext');
  const wrapped = async function (this: unknown, job: J, ...rest: Rest): Promise<Awaited<R>> {
    const running = jobHopOf(otelContext.active());
    const run = async (): Promise<Awaited<R>> => await processor.call(this, job, ...rest);
    // The job is at hand here, not in `sessionTelemetry`: its wait is measured here in both cases.
    guard('bullmq: measuring the wait of a job failed', undefined, recordJobWait, job);
    // The running job is the same one only by queue and id: ids repeat across queues (job `1` of
    // `webhooks` inside job `1` of `internal` must not take the internal job's session).
    if (running !== undefined && running.jobId === jobIdOf(job?.id) && running.queueName === job?.queueName) return run();
    let options: InboundHopOptions<unknown>;
    try {
      options = hopOptions(job, settings);
    } catch (err) {
      log.warn('bullmq: reading the job for its context failed; the job runs without it', err as Error);
      return run();
    }
    recordJobDelivered(typeof job.queueName === 'string' ? job.queueName : '', 'process');
    return runInboundHop(options, run);
  };
  // BullMQ passes an AbortSignal only to processors declaring three parameters.
  Object.defineProperty(wrapped, 'length', { value: processor.length });
  return wrapped;
}
