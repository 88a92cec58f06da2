/**
 * The session propagator: W3C traceparent/tracestate (Level 2), W3C baggage carrying the session
 * entry under the permit rule, and B3 read as a fallback and written on request. It is composed
 * from one member per concern (trace-context.ts, session-baggage.ts, b3.ts) over the pure codecs
 * of propagation/, and it is the one seam where a member's failure is caught: it is registered
 * globally, so instrumentations we do not control call it for every request, and it must never
 * throw whatever the carrier holds.
 *
 * It lives above propagation/ (which knows no AgentOps rule) and below hop/ (which grants the
 * permit and chooses the fields per destination), because it applies the session's rules to the
 * codecs and nothing else.
 */
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { B3Propagator } from '@opentelemetry/propagator-b3';
import { INJECT_FIELDS_KEY, type InjectFields } from '../base/context-keys.js';
import { guard } from '../base/diag.js';
import { resolveLimits, type PropagationLimits } from '../propagation/limits.js';
import { baggageSessionEntry, contextWithVettedSession } from '../session/context.js';
import { b3Reader, b3Writer, extractB3, injectB3 } from './b3.js';
import { BAGGAGE, TRACEPARENT, TRACESTATE } from './fields.js';
import { SessionBaggage } from './session-baggage.js';
import { extractTraceContext, injectTraceContext } from './trace-context.js';

/** Options of {@link sessionPropagator}. */
export interface SessionPropagatorOptions {
  /**
   * Read B3 (`b3`, or `X-B3-*`) when no valid traceparent is present; W3C wins when both are.
   * Default false: edge proxies that strip traceparent and baggage often leave B3, and a lone
   * `b3` header would then pick the trace (the session). `OTEL_PROPAGATORS=b3`/`b3multi` turns it on for `init`.
   */
  b3Extract?: boolean;
  /** Also write B3 on inject: one `b3` header ('single') or the `X-B3-*` set ('multi'). Default false. */
  b3Inject?: false | 'single' | 'multi';
  /** Size and work caps; unset fields keep the defaults of `DEFAULT_LIMITS`. */
  limits?: Partial<PropagationLimits>;
  /** Write the session baggage entry on every inject, not only where a hop granted the permit. Default false. */
  alwaysInjectSession?: boolean;
  /**
   * Treat the session entry `extract` delivers as vetted (its signature dropped, none checked),
   * so that spans started from it by other instrumentations are stamped. Default false: only for
   * processes with no public ingress; `init({ vetGlobalExtract })` sets it.
   */
  vetExtractedSession?: boolean;
}

/** `context` with the session entry of its baggage vetted, when it has one. */
function vetExtracted(context: Context): Context {
  const entry = baggageSessionEntry(context);
  return entry === undefined ? context : contextWithVettedSession(context, entry);
}

/** Which fields the hop allows (the context's INJECT_FIELDS_KEY value); anything but an explicit `false` allows. */
function allowed(fields: unknown, field: keyof InjectFields): boolean {
  return !(typeof fields === 'object' && fields !== null && (fields as InjectFields)[field] === false);
}

function injectFields(context: Context): unknown {
  return context.getValue(INJECT_FIELDS_KEY);
}

function injectBaggage(baggage: SessionBaggage, context: Context, carrier: unknown, setter: TextMapSetter): void {
  baggage.inject(context, carrier, setter);
}

function extractBaggage(baggage: SessionBaggage, context: Context, carrier: unknown, getter: TextMapGetter): Context {
  return baggage.extract(context, carrier, getter);
}

/** A W3C + B3 propagator that carries the AgentOps session in baggage. See the module comment. */
export class SessionPropagator implements TextMapPropagator {
  private readonly limits: PropagationLimits;
  private readonly baggage: SessionBaggage;
  private readonly b3Reader: B3Propagator | undefined;
  private readonly b3Writer: B3Propagator | undefined;
  private readonly fieldNames: readonly string[];
  private readonly vetExtractedSession: boolean;

  constructor(options: SessionPropagatorOptions = {}) {
    const o: SessionPropagatorOptions = typeof options === 'object' && options !== null ? options : {};
    this.limits = resolveLimits(o.limits);
    this.baggage = new SessionBaggage(this.limits, o.alwaysInjectSession === true);
    this.b3Reader = o.b3Extract === true ? b3Reader() : undefined;
    this.b3Writer = o.b3Inject === 'single' || o.b3Inject === 'multi' ? b3Writer(o.b3Inject) : undefined;
    this.vetExtractedSession = o.vetExtractedSession === true;
    this.fieldNames = Object.freeze([TRACEPARENT, TRACESTATE, BAGGAGE, ...(this.b3Writer?.fields() ?? [])]);
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (carrier === null || carrier === undefined) return;
    if (guard('reading the context failed; nothing injected', true, isTracingSuppressed, context)) return;
    const fields = guard('reading the context failed; nothing injected', undefined, injectFields, context);
    if (allowed(fields, 'traceparent')) {
      guard('traceparent inject failed; continuing without it', undefined, injectTraceContext, context, carrier, setter, this.limits);
      if (this.b3Writer !== undefined)
        guard('B3 inject failed; continuing without it', undefined, injectB3, this.b3Writer, context, carrier, setter);
    }
    if (allowed(fields, 'baggage'))
      guard('baggage inject failed; continuing without it', undefined, injectBaggage, this.baggage, context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let ctx = guard(
      'trace context extract failed; continuing without it',
      undefined,
      extractTraceContext,
      context,
      carrier,
      getter,
      this.limits,
    );
    if (ctx === undefined && this.b3Reader !== undefined)
      ctx = guard('B3 extract failed; continuing without it', undefined, extractB3, this.b3Reader, context, carrier, getter);
    const base = ctx ?? context;
    const extracted = guard('baggage extract failed; continuing without it', base, extractBaggage, this.baggage, base, carrier, getter);
    if (!this.vetExtractedSession) return extracted;
    return guard('vetting the extracted session failed; continuing without it', extracted, vetExtracted, extracted);
  }

  fields(): string[] {
    return this.fieldNames.slice();
  }
}

/** The propagator to register globally (`propagation.setGlobalPropagator`) or pass to the SDK. */
export function sessionPropagator(options?: SessionPropagatorOptions): SessionPropagator {
  return new SessionPropagator(options);
}
