import { trace, type Tracer } from '@opentelemetry/api';
import { VERSION } from './version.js';

/** Name under which the library's own spans are reported (instrumentation scope). */
export const TRACER_NAME = 'agentops-propagation';

/** The library's tracer, looked up per call so that a provider registered later is used. */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME, VERSION);
}
