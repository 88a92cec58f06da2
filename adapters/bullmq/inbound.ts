import { createContextKey, SpanKind, type Attributes, type Context, type TextMapPropagator } from '@opentelemetry/api';
import { jobMetadataGetter, type JobMetadataCarrier } from '../../src/carriers/job-metadata.js';
import type { InboundHopOptions } from '../../src/hop/types.js';
import { resolveShape, resolveTrust } from '../../src/policy/trust.js';
import type { BullMQJobInfo, QueueSettings } from './options.js';

/**
 * Marks the context a job runs in with the job, so that `withJobContext` inside a worker that
 * already has `sessionTelemetry` does not start a second span for the same job.
 */
export const JOB_HOP_KEY = createContextKey('agentops-propagation.bullmq.job-hop');

/** What {@link JOB_HOP_KEY} holds. */
export interface JobHopMark {
  queueName: string;
  jobId: string | undefined;
}

/** The job a context is running, when a job hop started it. */
export function jobHopOf(ctx: Context): JobHopMark | undefined {
  const mark = ctx.getValue(JOB_HOP_KEY);
  return typeof mark === 'object' && mark !== null ? (mark as JobHopMark) : undefined;
}

/**
 * The inbound hop options of one job under its queue's policy. A scheduled run is never a child
 * of the span that created the schedule (every run would land in that one, endless trace): it
 * rejoins the session the schedule was created in, or, with no session or `'own-trace'`, starts a
 * trace of its own that links to that span.
 */
export function jobHopOptions(
  info: BullMQJobInfo,
  carrier: JobMetadataCarrier | undefined,
  settings: QueueSettings,
  hop: { name: string; kind?: SpanKind; attributes: Attributes; parentContext?: Context; propagator: TextMapPropagator | undefined },
): InboundHopOptions<JobMetadataCarrier | undefined> {
  let trust = resolveTrust(settings.trust, info, 'trust');
  const shape = info.scheduled ? 'rejoin' : resolveShape(settings.shape, info, 'parent');
  let signing = settings.signing;
  if (info.scheduled && settings.scheduledRuns === 'own-trace') {
    // Linked, not joined; a valid signature must not pull the run back into the session.
    if (trust === 'trust') trust = 'link';
    signing = null;
  }
  const options: InboundHopOptions<JobMetadataCarrier | undefined> = {
    carrier,
    getter: jobMetadataGetter,
    spanName: hop.name,
    kind: hop.kind ?? SpanKind.CONSUMER,
    attributes: hop.attributes,
    trust,
    shape,
    signing,
    signedUpgrade: signing !== null && settings.signedUpgrade,
    linkWithoutSession: info.scheduled,
  };
  if (hop.parentContext !== undefined) options.parentContext = hop.parentContext;
  if (hop.propagator !== undefined) options.propagator = hop.propagator;
  return options;
}
