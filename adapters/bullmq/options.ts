import type { TextMapPropagator } from '@opentelemetry/api';
import {
  booleanOption,
  enumOption,
  keyringOption,
  optionsObject,
  policyTable,
  propagatorOption,
  shapeOption,
  signedUpgradeOption,
  trustOption,
} from '../../src/policy/options.js';
import type { SigningKeyOption, SigningKeyring } from '../../src/policy/signing.js';
import type { ShapeOption, TrustOption } from '../../src/policy/trust.js';

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
  /** Where trust is `link`: a validly signed session entry joins its session (the job's other baggage is still dropped). Default false. */
  signedUpgrade?: boolean;
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
  signedUpgrade: boolean;
}

/** Validated options. */
export interface BullMQSettings {
  /** The policy of a queue (the top-level one for a queue without overrides or an unknown queue). */
  forQueue(queueName: string | undefined): QueueSettings;
  propagator: TextMapPropagator | undefined;
  recordPayloads: boolean;
}

const SCHEDULED_RUNS: readonly ScheduledRunsMode[] = ['session', 'own-trace'];

/** The policy of a queue no option names: Redis is inside the deployment. */
const DEFAULT_QUEUE: QueueSettings = {
  trust: undefined,
  shape: undefined,
  scheduledRuns: 'session',
  signing: undefined,
  signedUpgrade: false,
};

function queuePolicy(raw: Record<string, unknown>, where: string, fallback: QueueSettings): QueueSettings {
  return {
    trust: trustOption<BullMQJobInfo>(raw.trust, `${where} trust`) ?? fallback.trust,
    shape: shapeOption<BullMQJobInfo>(raw.shape, `${where} shape`) ?? fallback.shape,
    scheduledRuns: enumOption(raw.scheduledRuns, `${where} scheduledRuns`, SCHEDULED_RUNS, fallback.scheduledRuns),
    signing: raw.signingKey !== undefined ? keyringOption(raw.signingKey, `${where} signingKey`) : fallback.signing,
    signedUpgrade: signedUpgradeOption(raw.signedUpgrade, `${where} signedUpgrade`, fallback.signedUpgrade),
  };
}

/** Option names of one queue's policy. */
const QUEUE_POLICY_OPTIONS = ['trust', 'shape', 'scheduledRuns', 'signingKey', 'signedUpgrade'] as const;
/** Option names of `withJobContext`. */
const JOB_CONTEXT_OPTIONS = [...QUEUE_POLICY_OPTIONS, 'queues', 'propagator'] as const;
/** Option names of `sessionTelemetry`. */
const TELEMETRY_OPTIONS = [...JOB_CONTEXT_OPTIONS, 'recordPayloads'] as const;

/** Validates `sessionTelemetry` / `withJobContext` options; a TypeError names the bad field. */
export function bullmqSettings(options: unknown, where: 'sessionTelemetry' | 'withJobContext'): BullMQSettings {
  const known = where === 'sessionTelemetry' ? TELEMETRY_OPTIONS : JOB_CONTEXT_OPTIONS;
  const raw = optionsObject(options, `${where} options`, known);
  return {
    forQueue: policyTable(raw.queues, `${where} queues`, queuePolicy(raw, where, DEFAULT_QUEUE), queuePolicy, QUEUE_POLICY_OPTIONS),
    propagator: propagatorOption(raw.propagator, `${where} propagator`, 'extract'),
    recordPayloads: booleanOption(raw.recordPayloads, `${where} recordPayloads`, false),
  };
}
