import type { TextMapPropagator } from '@opentelemetry/api';
import { createKeyring, type SigningKeyOption, type SigningKeyring } from '../../src/policy/signing.js';
import { assertShapeOption, assertTrustOption, type ShapeOption, type TrustOption } from '../../src/policy/trust.js';

/**
 * Where the runs of a job scheduler (or repeatable job) go when the schedule was created inside a
 * session: `'session'` keeps every run in it (a child of the session root, linked to the span
 * that created the schedule), `'own-trace'` gives every run a new trace linked to that span.
 * A schedule created outside any session always gives each run its own trace.
 */
export type ScheduledRunsMode = 'session' | 'own-trace';

/** What a per-job `trust` or `shape` function is given. */
export interface BullMQJobInfo {
  /** Queue the job was taken from. */
  queueName: string;
  /** Job id (undefined only if BullMQ did not report it before the job ran). */
  jobId: string | undefined;
  /** Job name. */
  jobName: string | undefined;
  /** True for a run of a job scheduler or a repeatable job. */
  scheduled: boolean;
}

/** Inbound policy, for every queue or for one queue. */
export interface BullMQQueuePolicy {
  /** Accept a job's context: 'trust' (default: Redis is inside the deployment), 'link', 'ignore', or a function per job. */
  trust?: TrustOption<BullMQJobInfo>;
  /** Placement of a trusted job's span: 'parent' (default, child of the producer span) or 'rejoin' (child of the session root, linked to the producer). */
  shape?: ShapeOption<BullMQJobInfo>;
  /** Runs of schedules created inside a session: 'session' (default) or 'own-trace'. */
  scheduledRuns?: ScheduledRunsMode;
  /** Key that signs outbound and verifies inbound session entries: undefined = the key given to `init()`, null = none. */
  signingKey?: SigningKeyOption | null;
}

/** Options of `withJobContext`. */
export interface JobContextOptions extends BullMQQueuePolicy {
  /** Per-queue overrides, by exact queue name; unset fields fall back to the top-level ones. */
  queues?: Record<string, BullMQQueuePolicy>;
  /** Propagator to read job metadata with (default: the library's). */
  propagator?: TextMapPropagator;
}

/** Options of `sessionTelemetry`. */
export interface SessionTelemetryOptions extends JobContextOptions {
  /** Keep BullMQ's attributes that hold job results and progress values (`bullmq.job.result`, `bullmq.job.progress`); default false. */
  recordPayloads?: boolean;
}

/** One queue's policy with keys validated; `signing` undefined means init's key. */
export interface QueueSettings {
  trust: TrustOption<BullMQJobInfo> | undefined;
  shape: ShapeOption<BullMQJobInfo> | undefined;
  scheduledRuns: ScheduledRunsMode;
  signing: SigningKeyring | null | undefined;
}

/** Validated options. */
export interface BullMQSettings {
  /** The policy of a queue (the top-level one for a queue without overrides or an unknown queue). */
  forQueue(queueName: string | undefined): QueueSettings;
  propagator: TextMapPropagator | undefined;
  recordPayloads: boolean;
}

const SCHEDULED_RUNS: ReadonlySet<unknown> = new Set(['session', 'own-trace']);

function optionsObject(options: unknown, where: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`agentops-propagation: ${where} must be an object`);
  }
  return options as Record<string, unknown>;
}

function queuePolicy(raw: Record<string, unknown>, where: string, fallback?: QueueSettings): QueueSettings {
  assertTrustOption(raw.trust, `${where} trust`);
  assertShapeOption(raw.shape, `${where} shape`);
  if (raw.scheduledRuns !== undefined && !SCHEDULED_RUNS.has(raw.scheduledRuns)) {
    throw new TypeError(`agentops-propagation: ${where} scheduledRuns must be 'session' | 'own-trace', got ${String(raw.scheduledRuns)}`);
  }
  let signing: SigningKeyring | null | undefined = fallback?.signing;
  if (raw.signingKey === null) signing = null;
  else if (raw.signingKey !== undefined) signing = createKeyring(raw.signingKey as SigningKeyOption);
  return {
    trust: (raw.trust as QueueSettings['trust']) ?? fallback?.trust,
    shape: (raw.shape as QueueSettings['shape']) ?? fallback?.shape,
    scheduledRuns: (raw.scheduledRuns as ScheduledRunsMode | undefined) ?? fallback?.scheduledRuns ?? 'session',
    signing,
  };
}

/** Validates `sessionTelemetry` / `withJobContext` options; a TypeError names the bad field. */
export function bullmqSettings(options: unknown, where: string): BullMQSettings {
  const raw = optionsObject(options, `${where} options`);
  const defaults = queuePolicy(raw, where);
  const byQueue = new Map<string, QueueSettings>();
  for (const [queue, policy] of Object.entries(optionsObject(raw.queues, `${where} queues`))) {
    byQueue.set(queue, queuePolicy(optionsObject(policy, `${where} queues["${queue}"]`), `${where} queues["${queue}"]`, defaults));
  }
  const propagator = raw.propagator;
  if (propagator !== undefined && (typeof propagator !== 'object' || propagator === null || typeof (propagator as TextMapPropagator).extract !== 'function')) {
    throw new TypeError(`agentops-propagation: ${where} propagator must be a TextMapPropagator`);
  }
  if (raw.recordPayloads !== undefined && typeof raw.recordPayloads !== 'boolean') {
    throw new TypeError(`agentops-propagation: ${where} recordPayloads must be a boolean`);
  }
  return {
    forQueue: (queueName) => (queueName !== undefined ? byQueue.get(queueName) : undefined) ?? defaults,
    propagator: propagator as TextMapPropagator | undefined,
    recordPayloads: raw.recordPayloads === true,
  };
}
