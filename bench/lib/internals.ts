/**
 * Library internals the micro-benchmarks drive directly, bundled with the public entries by
 * bench/lib/build.ts so that they run the same compiled code as everything else.
 */
export { outboundInjectContext, startInboundHop, startOutboundHop } from '../../src/hop.js';
export { httpHeaderSetter, incomingHeaderGetter } from '../../src/carriers/http.js';
export { emptyJobMetadata, formatJobMetadata, jobMetadataGetter, jobMetadataSetter, parseJobMetadata } from '../../src/carriers/job-metadata.js';
export { headersWithContext, kafkaHeaderSetter, type KafkaHeaders } from '../../src/carriers/kafka.js';
export { DEFAULT_POLICY, resolveMessage, startMessageHop } from '../../adapters/kafkajs/inbound.js';
