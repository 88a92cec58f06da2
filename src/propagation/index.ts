export { SessionPropagator, sessionPropagator, type SessionPropagatorOptions } from '../propagator/session-propagator.js';
export { DEFAULT_LIMITS, resolveLimits, type PropagationLimits } from './limits.js';
export { readHeaderValue, type HeaderMode } from './carrier-values.js';
export {
  FLAG_RANDOM,
  FLAG_SAMPLED,
  formatTraceparent,
  parseTraceparent,
  type ParsedTraceparent,
} from './traceparent.js';
export {
  isValidTracestateKey,
  isValidTracestateValue,
  MAX_TRACESTATE_MEMBERS,
  parseTracestate,
  TraceState,
} from './tracestate.js';
export {
  decodeBaggageValue,
  encodeBaggageValue,
  isBaggageKey,
  parseBaggage,
  serializeBaggage,
  type BaggageItem,
  type ParsedBaggage,
} from './baggage.js';
