/**
 * The metrics vocabulary: instrument names, units, bucket boundaries and attribute names, in one
 * place so that the instrument table of docs/metrics.md can be checked against it.
 *
 * The GenAI instruments follow the OpenTelemetry semantic conventions v1.41.0 (the last release
 * that holds the GenAI conventions before they moved to their own repository); the messaging
 * ones the same release's messaging metrics.
 */

/** The library's meter (instrumentation scope), the same name as its tracer. */
export const METER_NAME = 'agentops-propagation';

/** An attribute value past the cardinality limit is replaced by this (the conventions' own fallback value). */
export const OVERFLOW_VALUE = '_OTHER';

/** Instrument names. */
export const METRIC = {
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  llmCost: 'agentops.llm.cost',
  llmCalls: 'agentops.llm.calls',
  llmTokens: 'agentops.llm.tokens',
  entityDuration: 'agentops.entity.duration',
  sessionDuration: 'agentops.session.duration',
  inboundDecisions: 'agentops.propagation.inbound.decisions',
  inboundDiscarded: 'agentops.propagation.inbound.discarded',
  waitDuration: 'agentops.messaging.wait.duration',
  consumedMessages: 'messaging.client.consumed.messages',
  processDuration: 'messaging.process.duration',
} as const;

/** Attribute names the instruments use (spans use the same names where they carry the same fact). */
export const METRIC_ATTR = {
  operation: 'gen_ai.operation.name',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
  /** How a call's cost is known: `price_table`, `caller` (a per-call cost), or `unpriced`. */
  pricing: 'agentops.llm.pricing',
  /** The agent (`withAgent`, `@agent`) a call ran in, on the library's own LLM counters. */
  agentName: 'agentops.agent.name',
  spanKind: 'agentops.span.kind',
  entityName: 'agentops.entity.name',
  /** `success` or `error`. */
  outcome: 'agentops.outcome',
  endState: 'agentops.session.end_state',
  transport: 'agentops.hop.transport',
  trust: 'agentops.hop.trust',
  shape: 'agentops.hop.shape',
  /** What an inbound decision did with the caller's context. */
  decision: 'agentops.propagation.outcome',
  /** Why an inbound hop discarded something it was handed. */
  discardReason: 'agentops.propagation.reason',
  messagingSystem: 'messaging.system',
  messagingOperation: 'messaging.operation.name',
  destination: 'messaging.destination.name',
  consumerGroup: 'messaging.consumer.group.name',
  /** Whose clock the wait is measured from: `create_time`, `log_append_time` (Kafka), `job_timestamp` (BullMQ). */
  waitClock: 'agentops.wait.clock',
  /** `first` or `retry` (BullMQ). */
  waitAttempt: 'agentops.wait.attempt',
  /** True when the consumer's clock was behind the timestamp's: the wait is recorded as 0. */
  waitSkewed: 'agentops.wait.skewed',
} as const;

/** The conventions' boundaries for `gen_ai.client.token.usage`. */
export const TOKEN_BUCKETS: readonly number[] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** The conventions' boundaries for `gen_ai.client.operation.duration`; also used for agents, tools, operations and sessions. */
export const DURATION_BUCKETS: readonly number[] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** The messaging conventions' boundaries for `messaging.process.duration`. */
export const MESSAGING_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The messaging boundaries, extended to an hour: a queued message or a backed-up topic waits far longer than it is processed. */
export const WAIT_BUCKETS: readonly number[] = [...MESSAGING_BUCKETS, 30, 60, 300, 900, 3600];
