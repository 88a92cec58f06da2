/**
 * The global propagator `init` installs, per `OTEL_PROPAGATORS`, and the check that it is still
 * ours once spans flow (NodeSDK's `start()` registers W3C propagators of its own).
 *
 * The library's own hops inject and extract through their own session propagator whatever is
 * registered; the global one is what other instrumentations (HTTP clients, the user's code) use.
 */
import { propagation, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import { INJECT_FIELDS_KEY, type InjectFields } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { recordWrittenBaggage } from '../http/guarded-headers.js';
import { inboundVerdict } from '../http/inbound-trust.js';
import { sessionPropagator, type SessionPropagatorOptions } from '../propagator/session-propagator.js';

/** Marks the propagators `init` registers, across copies of the package (ESM and CJS builds). */
const OURS = Symbol.for('agentops-propagation.global-propagator');

/**
 * The global propagator as instrumentations see it. On inject it records the baggage values it
 * writes: the outbound guards remove exactly those (and our members) on a denied destination,
 * and leave other tools' baggage alone. On extract it continues nothing for a request the
 * inbound trust check (http/inbound-trust.ts) judged `link`: the stock SERVER span then starts
 * a fresh trace, and the library's hop adopts it and links the caller.
 */
class GlobalGuarded implements TextMapPropagator {
  constructor(private readonly inner: TextMapPropagator) {}
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.inner.inject(context, carrier, {
      set(c: unknown, key: string, value: string) {
        if (key === 'baggage') recordWrittenBaggage(value);
        setter.set(c, key, value);
      },
    });
  }
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    if (inboundVerdict(carrier) === 'link') return context;
    return this.inner.extract(context, carrier, getter);
  }
  fields(): string[] {
    return this.inner.fields();
  }
}

function mark(propagator: TextMapPropagator): TextMapPropagator {
  const outer = new GlobalGuarded(propagator);
  (outer as unknown as Record<symbol, boolean>)[OURS] = true;
  return outer;
}

/** True when the registered global propagator is one `init` made or a `SessionPropagator` (`sessionPropagator()`). */
function globalPropagatorIsOurs(): boolean {
  const global = (propagation as unknown as { _getGlobalPropagator?: () => unknown })._getGlobalPropagator?.();
  if (typeof global !== 'object' || global === null) return false;
  // By name rather than instanceof: the propagator may come from the other build (ESM/CJS).
  return (global as Record<symbol, unknown>)[OURS] === true || global.constructor?.name === 'SessionPropagator';
}

/** The session propagator as the global one, without the baggage header on inject (OTEL_PROPAGATORS=tracecontext). */
class TraceContextOnly implements TextMapPropagator {
  constructor(private readonly inner: TextMapPropagator) {}
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const fields = (context.getValue(INJECT_FIELDS_KEY) as InjectFields | undefined) ?? {};
    this.inner.inject(context.setValue(INJECT_FIELDS_KEY, { ...fields, baggage: false }), carrier, setter);
  }
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.inner.extract(context, carrier, getter);
  }
  fields(): string[] {
    return this.inner.fields().filter((f) => f !== 'baggage');
  }
}

/**
 * The global propagator for `OTEL_PROPAGATORS` (unset: tracecontext,baggage): the session
 * propagator; without `baggage`, one that writes no baggage header; `none` alone: none at all
 * (undefined). `b3` / `b3multi` turn B3 on (read, and written as one header / the `X-B3-*` set)
 * unless the `propagator` option says otherwise. Other names are warned about and ignored.
 */
export function globalPropagator(
  options: SessionPropagatorOptions | undefined,
  env: NodeJS.ProcessEnv = process.env,
): TextMapPropagator | undefined {
  const names = (env.OTEL_PROPAGATORS ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  if (names.length === 0) return mark(sessionPropagator(options));
  for (const name of names) {
    if (!['tracecontext', 'baggage', 'none', 'b3', 'b3multi'].includes(name))
      log.warn(`OTEL_PROPAGATORS: ${name} is not supported; ignored`);
  }
  if (names.includes('none') && names.length === 1) return undefined;
  const b3 = names.includes('b3multi') ? 'multi' : names.includes('b3') ? 'single' : undefined;
  const o: SessionPropagatorOptions = b3 === undefined ? { ...options } : { b3Extract: true, b3Inject: b3, ...options };
  if (names.includes('tracecontext') && !names.includes('baggage')) return mark(new TraceContextOnly(sessionPropagator(o)));
  return mark(sessionPropagator(o));
}

/** Replaces whatever is registered with `propagator` (none when undefined). */
export function installGlobalPropagator(propagator: TextMapPropagator | undefined): void {
  propagation.disable();
  if (propagator !== undefined) propagation.setGlobalPropagator(propagator);
}

/** Warns when the global propagator is not ours (NodeSDK started after `init`, or without `textMapPropagator`); called at the first span. */
export function checkGlobalPropagator(): void {
  if (globalPropagatorIsOurs()) return;
  log.warn(
    "the global propagator is not agentops-propagation's: other instrumentations will not carry the session. " +
      'Pass textMapPropagator: sessionPropagator() to NodeSDK, or call init() after sdk.start()',
  );
}
