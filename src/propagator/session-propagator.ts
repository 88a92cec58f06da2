/**
 * The propagator: W3C traceparent/tracestate (Level 2), W3C baggage with limits, B3 as a
 * fallback on extract and an option on inject. It is registered globally, so instrumentations we
 * do not control call it for every request: it must never throw, whatever the carrier holds, and
 * it withholds the session entry unless one of our hops (or the user) allowed it.
 */
import {
  baggageEntryMetadataFromString,
  isSpanContextValid,
  propagation,
  trace,
  type Baggage,
  type BaggageEntry,
  type Context,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type TraceState as ApiTraceState,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import {
  INBOUND_FLAGS_KEY,
  INJECT_FIELDS_KEY,
  SESSION_PERMIT_KEY,
  type InboundFlags,
  type InjectFields,
} from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { SESSION_BAGGAGE_KEY } from '../session/entry.js';
import { sharedState } from '../base/state.js';
import { parseBaggage, serializeBaggage, type BaggageItem } from '../propagation/baggage.js';
import { readHeaderValue } from '../propagation/carrier-values.js';
import { OrderedBaggage } from '../propagation/ordered-baggage.js';
import { bump } from '../base/counters.js';
import { resolveLimits, type PropagationLimits } from '../propagation/limits.js';
import { FLAG_RANDOM, FLAG_SAMPLED, formatTraceparent, normalizeHexId, parseTraceparent } from '../propagation/traceparent.js';
import { parseTracestate, sanitizeTracestate, TraceState } from '../propagation/tracestate.js';

/** Options of {@link sessionPropagator}. */
export interface SessionPropagatorOptions {
  /** Read B3 (`b3`, or `X-B3-*`) when no valid traceparent is present; W3C wins when both are. Default true. */
  b3Extract?: boolean;
  /** Also write B3 on inject: one `b3` header ('single') or the `X-B3-*` set ('multi'). Default false. */
  b3Inject?: false | 'single' | 'multi';
  /** Size and work caps; unset fields keep the defaults of `DEFAULT_LIMITS`. */
  limits?: Partial<PropagationLimits>;
  /** Write the session baggage entry on every inject, not only where a hop granted the permit. Default false. */
  alwaysInjectSession?: boolean;
}

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const BAGGAGE = 'baggage';
/** Characters of a traceparent (or B3 value) read at most: 55 are needed, future versions append. */
const ID_HEADER_READ_LIMIT = 512;
/**
 * Inbound baggage headers up to this length are remembered once parsed: within a session every
 * hop carries the same header, and parsing it is most of an extract's cost.
 */
const CACHEABLE_BAGGAGE_CHARS = 2048;
/** Headers remembered at most; the cache is emptied when full (bounded, and cheap to refill). */
const BAGGAGE_CACHE_SIZE = 256;

/** A parsed clean baggage header and what parsing it examined (the counters report it on every hit). */
interface ParsedHeader {
  baggage: OrderedBaggage;
  examinedBytes: number;
  examinedMembers: number;
}

/** Serialized baggage of one Baggage object: without and with the session permit. */
type SerializedBaggage = [string | undefined, string | undefined];

function safeGet(getter: TextMapGetter, carrier: unknown, key: string): unknown {
  try {
    return getter.get(carrier, key);
  } catch (err) {
    log.warn(`carrier getter threw for "${key}"; header ignored`, err as Error);
    return undefined;
  }
}

function safeSet(setter: TextMapSetter, carrier: unknown, key: string, value: string): void {
  try {
    setter.set(carrier, key, value);
  } catch (err) {
    log.warn(`carrier setter threw for "${key}"; header not written`, err as Error);
  }
}

/** Which fields the hop allows (the context's INJECT_FIELDS_KEY value); anything but an explicit `false` allows. */
function allowed(fields: unknown, field: keyof InjectFields): boolean {
  return !(typeof fields === 'object' && fields !== null && (fields as InjectFields)[field] === false);
}

/** A W3C + B3 propagator that carries the AgentOps session in baggage. See the module comment. */
export class SessionPropagator implements TextMapPropagator {
  private readonly limits: PropagationLimits;
  private readonly alwaysInjectSession: boolean;
  private readonly b3Reader: B3Propagator | undefined;
  private readonly b3Writer: B3Propagator | undefined;
  private readonly fieldNames: readonly string[];
  // Only headers that parsed with nothing dropped are kept, so a hit skips no log line.
  private readonly parsedHeaders = new Map<string, ParsedHeader>();
  // Baggage is immutable (the API's contract; setEntry returns a new one): what it serializes to
  // never changes. Only outputs that dropped nothing are kept, so a hit skips no log line.
  private readonly serialized = new WeakMap<Baggage, SerializedBaggage>();

  constructor(options: SessionPropagatorOptions = {}) {
    const o: SessionPropagatorOptions = typeof options === 'object' && options !== null ? options : {};
    this.limits = resolveLimits(o.limits);
    this.alwaysInjectSession = o.alwaysInjectSession === true;
    this.b3Reader = o.b3Extract === false ? undefined : new B3Propagator();
    this.b3Writer =
      o.b3Inject === 'single' || o.b3Inject === 'multi'
        ? new B3Propagator({
            injectEncoding: o.b3Inject === 'multi' ? B3InjectEncoding.MULTI_HEADER : B3InjectEncoding.SINGLE_HEADER,
          })
        : undefined;
    this.fieldNames = Object.freeze([TRACEPARENT, TRACESTATE, BAGGAGE, ...(this.b3Writer?.fields() ?? [])]);
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (carrier === null || carrier === undefined) return;
    try {
      if (isTracingSuppressed(context)) return;
      const fields = context.getValue(INJECT_FIELDS_KEY);
      if (allowed(fields, 'traceparent')) this.injectTrace(context, carrier, setter);
      if (allowed(fields, 'baggage')) this.injectBaggage(context, carrier, setter);
    } catch (err) {
      log.warn('inject failed; continuing without it', err as Error);
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let ctx = context;
    try {
      ctx = this.extractTrace(ctx, carrier, getter);
    } catch (err) {
      log.warn('trace context extract failed; continuing without it', err as Error);
    }
    try {
      ctx = this.extractBaggage(ctx, carrier, getter);
    } catch (err) {
      log.warn('baggage extract failed; continuing without it', err as Error);
    }
    return ctx;
  }

  fields(): string[] {
    return this.fieldNames.slice();
  }

  private injectTrace(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(context);
    if (sc === undefined || !isSpanContextValid(sc)) return;
    const raw = typeof sc.traceFlags === 'number' ? sc.traceFlags : 0;
    // Only the bits this version defines; the others MUST be written as zero.
    let flags = raw & FLAG_SAMPLED;
    // The SDK gives child spans only the sampled bit; the random bit of the inbound traceparent
    // must go out on every traceparent with the same trace id (Level 2, "Random Trace ID Flag").
    const inbound = context.getValue(INBOUND_FLAGS_KEY) as InboundFlags | undefined;
    if (
      (raw & FLAG_RANDOM) !== 0 ||
      (typeof inbound === 'object' &&
        inbound !== null &&
        typeof inbound.flags === 'number' &&
        (inbound.flags & FLAG_RANDOM) !== 0 &&
        // The recorded id is lowercase: compare as is first, normalize only when that fails.
        (inbound.traceId === sc.traceId || inbound.traceId === normalizeHexId(sc.traceId, 32)))
    ) {
      flags |= FLAG_RANDOM;
    }
    const traceparent = formatTraceparent(sc.traceId, sc.spanId, flags);
    if (traceparent === undefined) return;
    safeSet(setter, carrier, TRACEPARENT, traceparent);
    const tracestate = this.serializeTraceState(sc.traceState);
    if (tracestate !== undefined) safeSet(setter, carrier, TRACESTATE, tracestate);
    if (this.b3Writer !== undefined) {
      try {
        this.b3Writer.inject(context, carrier, setter);
      } catch (err) {
        log.warn('B3 inject failed; continuing without it', err as Error);
      }
    }
  }

  private serializeTraceState(ts: ApiTraceState | undefined): string | undefined {
    if (ts === undefined || ts === null) return undefined;
    try {
      if (ts instanceof TraceState) {
        const out = ts.truncate(this.limits.maxTracestateLength).serialize();
        return out.length > 0 ? out : undefined;
      }
      // Another implementation's state (core's TraceState, a sampler's): re-validate its output.
      return sanitizeTracestate(ts.serialize(), this.limits.maxTracestateLength);
    } catch (err) {
      log.warn('tracestate serialize failed; tracestate not written', err as Error);
      return undefined;
    }
  }

  private injectBaggage(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const baggage = propagation.getBaggage(context);
    if (baggage === undefined) return;
    // Other libraries' instrumentations call the global propagator for any destination: the
    // session id goes out only where our hop (target policy) or the user allowed it.
    const permit =
      context.getValue(SESSION_PERMIT_KEY) === true ||
      this.alwaysInjectSession ||
      sharedState().globalSessionBaggage === true;
    const slot = permit ? 1 : 0;
    const known = this.serialized.get(baggage)?.[slot];
    if (known !== undefined) {
      if (known.length > 0) safeSet(setter, carrier, BAGGAGE, known);
      return;
    }
    const items: BaggageItem[] = [];
    for (const [key, entry] of baggage.getAllEntries()) {
      if (key === SESSION_BAGGAGE_KEY && !permit) continue;
      if (typeof entry !== 'object' || entry === null || typeof entry.value !== 'string') continue;
      const item: BaggageItem = { key, value: entry.value };
      const metadata = metadataText(entry);
      if (metadata !== undefined) item.metadata = metadata;
      items.push(item);
    }
    const header = serializeBaggage(items, this.limits);
    // Values are percent-encoded and properties hold no ',': one more member than commas.
    if (memberCount(header) === items.length) {
      const cached = this.serialized.get(baggage) ?? [undefined, undefined];
      cached[slot] = header;
      this.serialized.set(baggage, cached);
    }
    if (header.length > 0) safeSet(setter, carrier, BAGGAGE, header);
  }

  private extractTrace(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = safeGet(getter, carrier, TRACEPARENT);
    if (raw !== undefined && raw !== null) {
      const value = readHeaderValue(raw, 'single', ID_HEADER_READ_LIMIT);
      const parsed = value === undefined ? undefined : parseTraceparent(value);
      if (parsed !== undefined) {
        const { traceId, spanId, flags } = parsed;
        const spanContext: SpanContext = { traceId, spanId, traceFlags: flags, isRemote: true };
        // tracestate is only read with a valid traceparent (W3C: MUST NOT parse it otherwise).
        const header = readHeaderValue(
          safeGet(getter, carrier, TRACESTATE),
          'list',
          this.limits.maxTracestateScanBytes,
        );
        const traceState = header === undefined ? undefined : parseTracestate(header, this.limits);
        if (traceState !== undefined) spanContext.traceState = traceState;
        const inbound: InboundFlags = { traceId, flags };
        return trace.setSpanContext(context, spanContext).setValue(INBOUND_FLAGS_KEY, inbound);
      }
      bump('traceparentRejected');
      log.debug(
        Array.isArray(raw) && raw.length > 1 ? 'repeated traceparent rejected' : 'invalid traceparent rejected',
      );
    }
    return this.b3Reader === undefined ? context : this.extractB3(context, carrier, getter);
  }

  private extractB3(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const reader: TextMapGetter = {
      get: (c, key) => readHeaderValue(safeGet(getter, c, key), 'single', ID_HEADER_READ_LIMIT),
      keys: () => [],
    };
    const out = (this.b3Reader as B3Propagator).extract(context, carrier, reader);
    if (out === context) return context;
    const sc = trace.getSpanContext(out);
    if (sc === undefined) return context;
    // The API's id check accepts uppercase hex; the span context we hand on must be wire-ready.
    const traceId = normalizeHexId(sc.traceId, 32);
    const spanId = normalizeHexId(sc.spanId, 16);
    if (traceId === undefined || spanId === undefined) return context;
    const normalized =
      traceId === sc.traceId && spanId === sc.spanId ? out : trace.setSpanContext(out, { ...sc, traceId, spanId });
    const inbound: InboundFlags = { traceId, flags: sc.traceFlags & FLAG_SAMPLED };
    return normalized.setValue(INBOUND_FLAGS_KEY, inbound);
  }

  private extractBaggage(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = safeGet(getter, carrier, BAGGAGE);
    if (raw === undefined || raw === null) return context;
    const header = readHeaderValue(raw, 'list', this.limits.maxScanBytes);
    if (header === undefined) {
      log.debug('baggage header of an unusable type ignored');
      return context;
    }
    const cacheable = header.length <= CACHEABLE_BAGGAGE_CHARS;
    if (cacheable) {
      const hit = this.parsedHeaders.get(header);
      if (hit !== undefined) {
        bump('baggageBytesExamined', hit.examinedBytes);
        bump('baggageMembersExamined', hit.examinedMembers);
        return propagation.setBaggage(context, hit.baggage);
      }
    }
    const { entries, dropped, scanCut, examinedBytes, examinedMembers } = parseBaggage(header, this.limits);
    // The inbound header replaces the context's baggage; with nothing valid left there is none.
    if (entries.length === 0) return propagation.deleteBaggage(context);
    // A Map, not a record: keeps header order and makes `__proto__` (a valid token) an ordinary key.
    const baggage = new OrderedBaggage(
      entries.map((item): [string, BaggageEntry] => [
        item.key,
        item.metadata === undefined
          ? { value: item.value }
          : { value: item.value, metadata: baggageEntryMetadataFromString(item.metadata) },
      ]),
    );
    if (cacheable && dropped === 0 && !scanCut) {
      if (this.parsedHeaders.size >= BAGGAGE_CACHE_SIZE) this.parsedHeaders.clear();
      this.parsedHeaders.set(header, { baggage, examinedBytes, examinedMembers });
    }
    return propagation.setBaggage(context, baggage);
  }
}

function memberCount(header: string): number {
  if (header.length === 0) return 0;
  let n = 1;
  for (let i = header.indexOf(','); i >= 0; i = header.indexOf(',', i + 1)) n++;
  return n;
}

function metadataText(entry: BaggageEntry): string | undefined {
  if (entry.metadata === undefined || entry.metadata === null) return undefined;
  try {
    const text = entry.metadata.toString();
    return typeof text === 'string' && text.length > 0 ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The propagator to register globally (`propagation.setGlobalPropagator`) or pass to the SDK. */
export function sessionPropagator(options?: SessionPropagatorOptions): SessionPropagator {
  return new SessionPropagator(options);
}
