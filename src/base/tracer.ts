import { trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { sharedState } from './state.js';
import { VERSION } from './version.js';

/** Name under which the library's own spans are reported (instrumentation scope). */
export const TRACER_NAME = 'agentops-propagation';

interface CachedTracer {
  global: TracerProvider;
  delegate: TracerProvider;
  tracer: Tracer;
  /** Whether `delegate` is init's provider with a sampler that records nothing under an unsampled remote parent. */
  followsUnsampledParents: boolean;
}
let cached: CachedTracer | undefined;

/**
 * The library's tracer. Every hop asks for it, and the SDK builds a key string and looks it up on
 * each `getTracer`: keep the last one, for as long as the same provider is registered, so that a
 * provider registered (or replaced) later is still picked up.
 */
export function tracer(): Tracer {
  const global = trace.getTracerProvider();
  const getDelegate = (global as { getDelegate?: () => TracerProvider }).getDelegate;
  const delegate = typeof getDelegate === 'function' ? getDelegate.call(global) : global;
  if (cached === undefined || cached.global !== global || cached.delegate !== delegate) {
    cached = {
      global,
      delegate,
      tracer: global.getTracer(TRACER_NAME, VERSION),
      followsUnsampledParents: delegate === sharedState().parentBasedProvider,
    };
  }
  return cached.tracer;
}

/**
 * Whether a span started by {@link tracer} under an unsampled remote parent is known to record
 * nothing (init's provider, parent-based sampler): a hop can then skip what only a recording
 * span needs. False whenever the sampler is someone else's.
 */
export function unsampledRemoteParentsRecordNothing(): boolean {
  tracer();
  return (cached as CachedTracer).followsUnsampledParents;
}
