export { sessionTelemetry } from './telemetry.js';
export { instrumentFlowProducer } from './flow-producer.js';
export { withJobContext, type ProcessableJob } from './processor.js';
export { ATTEMPT_ATTRIBUTE } from './attributes.js';
export type { BullMQJobInfo, BullMQQueuePolicy, JobContextOptions, ScheduledRunsMode, SessionTelemetryOptions } from './options.js';
