import {
  context as otelContext,
  defaultTextMapSetter,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  isSpanContextValid,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
} from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { ATTR } from '../session/attributes.js';
import { INJECT_FIELDS_KEY, SESSION_PERMIT_KEY, type InjectFields } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import { sessionPropagator } from '../propagation/index.js';
import { contextWithSessionEntry, getSessionEntry } from '../session/session.js';
import { SESSION_BAGGAGE_KEY, type SessionEntry } from '../session/entry.js';
import { signSessionEntry, verifySessionEntry, type SigningKeyring } from '../policy/signing.js';
import { sharedState } from '../base/state.js';
import type { ShapeMode, TrustMode } from '../policy/trust.js';
import { tracer } from '../base/tracer.js';

/** How an inbound hop placed its span. */
export type HopShape = 'parent' | 'rejoin' | 'root';

/** Options of `startInboundHop`. */
export interface InboundHopOptions<Carrier> {
  /** What the caller's context arrived in (headers, message headers, job metadata). */
  carrier: Carrier;
  /** Reads one field of the carrier. */
  getter: TextMapGetter<Carrier>;
  /** Name of the SERVER/CONSUMER span. */
  spanName: string;
  /** Span kind (default SERVER). */
  kind?: SpanKind;
  /** Attributes for the span (semantic conventions of the transport). */
  attributes?: Attributes;
  /** Trust decided for this input by the adapter's policy. */
  trust: TrustMode;
  /** Shape for trusted input (default 'parent'). */
  shape?: ShapeMode;
  /** Keyring verifying signed entries; undefined = the one from `init`, null = none. */
  signing?: SigningKeyring | null;
  /** A span another instrumentation already started for this input; adopted when trusted. */
  existingSpan?: Span;
  /** Extra links for the span (for example one per message of a batch). */
  links?: Link[];
  /** Context to start from (default: the active one). */
  parentContext?: Context;
  /** Start time of the span, when the input arrived before the hop ran. */
  startTime?: number;
  /** Propagator to extract with (default: the library's, whatever is registered globally). */
  propagator?: TextMapPropagator;
  /** A decision `resolveInbound` already made for this input (batch consumers resolve each message once). */
  resolved?: ResolvedInbound;
  /** Link, never continue, a trusted caller whose context carries no session entry (scheduled runs: continuing would grow one endless trace). */
  linkWithoutSession?: boolean;
}

/** How an inbound or outbound hop finished. */
export interface HopOutcome {
  /** An error thrown or passed on by the handler: recorded, span status ERROR. */
  error?: unknown;
  /** Explicit status, when the transport reports failure without an error (HTTP 5xx). */
  status?: SpanStatusCode;
  /** Attributes known only at the end (response status code). */
  attributes?: Attributes;
}

/** A started inbound hop. */
export interface InboundHop {
  /** The SERVER/CONSUMER span, ours or the adopted one. */
  readonly span: Span;
  /** Context to run the handler in: the span, and the session's baggage when trusted. */
  readonly context: Context;
  /** The session the input joined, if any. */
  readonly sessionId: string | undefined;
  /** Trust actually applied (a signature can raise or lower the configured one). */
  readonly trust: TrustMode;
  /** Where the span was placed. */
  readonly shape: HopShape;
  /** True when the span is another instrumentation's, which we do not end. */
  readonly adopted: boolean;
  /** Ends the span (once) with the outcome. */
  end(outcome?: HopOutcome): void;
}

/** What the inbound carrier resolved to, before any span is started. */
export interface ResolvedInbound {
  /** Context to start the hop's span in (holds the parent span context and the baggage). */
  parentContext: Context;
  /** True when the span must be a new root. */
  root: boolean;
  /** Links the span should carry. */
  links: Link[];
  /** The accepted session entry. */
  session: SessionEntry | undefined;
  /** The caller's span context, when valid. */
  caller: SpanContext | undefined;
  /** Trust after signature checks. */
  trust: TrustMode;
  /** Shape of the span. */
  shape: HopShape;
}

let defaultPropagator: TextMapPropagator | undefined;
function libraryPropagator(): TextMapPropagator {
  defaultPropagator ??= sessionPropagator();
  return defaultPropagator;
}

function keyringFor(option: SigningKeyring | null | undefined): SigningKeyring | undefined {
  return option === undefined ? sharedState().signing : (option ?? undefined);
}

function randomSpanId(): string {
  let id: string;
  do id = randomBytes(8).toString('hex');
  while (id === '0000000000000000');
  return id;
}

/**
 * The decision half of an inbound hop: extract, check signatures, apply trust, pick the shape.
 * Separate from span creation so that batch consumers can resolve each message without a span.
 */
export function resolveInbound<Carrier>(options: Omit<InboundHopOptions<Carrier>, 'spanName'>): ResolvedInbound {
  const base = options.parentContext ?? otelContext.active();
  let trust = options.trust;
  // Without this the SDK would parent our span under whatever span is active (a framework's).
  // Each deletion copies the context: skip the ones with nothing to delete (a server's usual case).
  let clean = base;
  if (propagation.getBaggage(clean) !== undefined) clean = propagation.deleteBaggage(clean);
  if (trace.getSpan(clean) !== undefined) clean = trace.deleteSpan(clean);
  if (trust === 'ignore') {
    sharedState().counters.droppedInbound++;
    return { parentContext: clean, root: true, links: [], session: undefined, caller: undefined, trust, shape: 'root' };
  }

  let extracted: Context;
  try {
    extracted = (options.propagator ?? libraryPropagator()).extract(clean, options.carrier, options.getter);
  } catch (err) {
    log.warn('inbound extract failed; treating the input as carrying no context', err as Error);
    extracted = clean;
  }
  const callerContext = trace.getSpanContext(extracted);
  const caller = callerContext !== undefined && isSpanContextValid(callerContext) ? callerContext : undefined;
  let session = getSessionEntry(extracted);

  const keyring = keyringFor(options.signing);
  if (keyring !== undefined) {
    let verdict: string = 'none';
    if (session !== undefined) {
      verdict = verifySessionEntry(session, keyring);
      if (verdict !== 'valid') {
        log.warn(`inbound session entry refused: ${verdict}`);
        sharedState().counters.droppedInbound++;
        session = undefined;
      }
    }
    // A valid signature vouches for the caller, wherever it connects from.
    if (session !== undefined && trust === 'link') trust = 'trust';
    // A traceparent not backed by a signed entry of its own trace is only linked.
    if (trust === 'trust' && session === undefined && caller !== undefined) trust = 'link';
  }
  if (options.linkWithoutSession === true && trust === 'trust' && session === undefined && caller !== undefined) trust = 'link';

  const callerLinks: Link[] = caller !== undefined ? [{ context: caller, attributes: { [ATTR.linkType]: 'predecessor' } }] : [];
  if (trust === 'link') {
    if (session !== undefined || propagation.getBaggage(extracted) !== undefined) sharedState().counters.droppedInbound++;
    return { parentContext: clean, root: true, links: callerLinks, session: undefined, caller, trust, shape: 'root' };
  }

  // Trusted: keep the caller's baggage (the session entry among it, re-validated). Every branch
  // but the root one sets the span key again, so only that one pays for deleting it.
  let ctx = extracted;
  if (session === undefined) {
    const bag = propagation.getBaggage(ctx);
    if (bag?.getEntry(SESSION_BAGGAGE_KEY) !== undefined) ctx = propagation.setBaggage(ctx, bag.removeEntry(SESSION_BAGGAGE_KEY));
    if (caller === undefined) return { parentContext: trace.getSpan(ctx) === undefined ? ctx : trace.deleteSpan(ctx), root: true, links: [], session, caller, trust, shape: 'root' };
    return { parentContext: trace.setSpanContext(ctx, caller), root: false, links: [], session, caller, trust, shape: 'parent' };
  }
  ctx = contextWithSessionEntry(ctx, session);
  // Parent only when the caller's span is in the session's trace: a span outside that trace is
  // outside the session, so anything else rejoins.
  if (options.shape !== 'rejoin' && caller !== undefined && caller.traceId === session.sessionId) {
    return { parentContext: trace.setSpanContext(ctx, caller), root: false, links: [], session, caller, trust, shape: 'parent' };
  }
  if (session.rootSpanId === undefined) log.debug('session entry carries no root span id; rejoining under a stand-in parent');
  const rootParent: SpanContext = {
    traceId: session.sessionId,
    spanId: session.rootSpanId ?? randomSpanId(),
    traceFlags: (session.traceFlags ?? caller?.traceFlags ?? TraceFlags.SAMPLED) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  return { parentContext: trace.setSpanContext(ctx, rootParent), root: false, links: callerLinks, session, caller, trust, shape: 'rejoin' };
}

function finish(span: Span, outcome: HopOutcome | undefined): void {
  if (outcome?.attributes) span.setAttributes(outcome.attributes);
  if (outcome?.error !== undefined) {
    const err = outcome.error;
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  } else if (outcome?.status !== undefined) {
    span.setStatus({ code: outcome.status });
  }
}

/**
 * Inbound hop: read the carrier, apply trust, extract, choose parent / rejoin / root, start the
 * SERVER or CONSUMER span (or adopt the one another instrumentation made). Never throws.
 */
export function startInboundHop<Carrier>(options: InboundHopOptions<Carrier>): InboundHop {
  const resolved = options.resolved ?? resolveInbound(options);
  // The hop's own two attributes are set on the span, not merged into a copy of the adapter's:
  // a spread followed by computed keys takes V8's slow path and was a tenth of a Kafka hop.
  const attributes: Attributes = options.attributes ?? {};
  const existing = options.existingSpan;
  const existingContext = existing?.spanContext();

  // The instrumentation's span already continued the caller: adopt it only when we would have
  // produced the same parentage; otherwise our own span starts fresh and links it.
  const adoptable =
    existing !== undefined &&
    existingContext !== undefined &&
    existing.isRecording() &&
    resolved.trust === 'trust' &&
    (resolved.shape === 'parent' ? existingContext.traceId === resolved.caller?.traceId : resolved.shape === 'root' && resolved.caller === undefined);
  if (adoptable) {
    existing.setAttributes(attributes);
    existing.setAttribute(ATTR.hopTrust, resolved.trust);
    existing.setAttribute(ATTR.hopShape, 'adopted');
    if (resolved.session !== undefined && existingContext.traceId === resolved.session.sessionId) {
      existing.setAttribute(ATTR.sessionId, resolved.session.sessionId);
      existing.setAttribute(ATTR.agentopsSessionId, resolved.session.sessionId);
    }
    const ctx = trace.setSpan(trace.deleteSpan(resolved.parentContext), existing);
    let done = false;
    return {
      span: existing,
      context: ctx,
      sessionId: resolved.session?.sessionId,
      trust: resolved.trust,
      shape: resolved.shape,
      adopted: true,
      end(outcome) {
        if (done) return;
        done = true;
        finish(existing, outcome);
      },
    };
  }

  const links = resolved.links.length === 0 && options.links === undefined ? [] : [...resolved.links, ...(options.links ?? [])];
  if (existingContext !== undefined && isSpanContextValid(existingContext)) {
    links.push({ context: existingContext, attributes: { [ATTR.linkType]: 'adopted' } });
  }
  const span = tracer().startSpan(
    options.spanName,
    {
      kind: options.kind ?? SpanKind.SERVER,
      attributes,
      links,
      root: resolved.root,
      ...(options.startTime !== undefined ? { startTime: options.startTime } : {}),
    },
    resolved.parentContext,
  );
  span.setAttribute(ATTR.hopTrust, resolved.trust);
  span.setAttribute(ATTR.hopShape, resolved.shape);
  const ctx = trace.setSpan(resolved.parentContext, span);
  let done = false;
  return {
    span,
    context: ctx,
    sessionId: resolved.session?.sessionId,
    trust: resolved.trust,
    shape: resolved.shape,
    adopted: false,
    end(outcome) {
      if (done) return;
      done = true;
      finish(span, outcome);
      span.end();
    },
  };
}

/**
 * Inbound hop around a handler: the handler and everything it awaits run in the hop's context;
 * the span ends when it settles. Handler errors are recorded and rethrown unchanged.
 */
export async function runInboundHop<Carrier, T>(options: InboundHopOptions<Carrier>, handler: (hop: InboundHop) => T | Promise<T>): Promise<T> {
  const hop = startInboundHop(options);
  try {
    const result = await otelContext.with(hop.context, handler, undefined, hop);
    hop.end();
    return result;
  } catch (err) {
    hop.end({ error: err });
    throw err;
  }
}

/** Options of `startOutboundHop`. */
export interface OutboundHopOptions {
  /** Name of the CLIENT/PRODUCER span. */
  spanName: string;
  /** Span kind (default CLIENT). */
  kind?: SpanKind;
  /** Attributes for the span. */
  attributes?: Attributes;
  /** Context to start from (default: the active one). */
  parentContext?: Context;
  /** False: start no span and inject the parent context as is. */
  startSpan?: boolean;
  /** Keyring that signs the session entry; undefined = the one from `init`, null = none. */
  signing?: SigningKeyring | null;
  /** Propagator to inject with (default: the library's). */
  propagator?: TextMapPropagator;
}

/** A started outbound hop. */
export interface OutboundHop {
  /** The CLIENT/PRODUCER span, when one was started. */
  readonly span: Span | undefined;
  /** Context of the hop (its span active). */
  readonly context: Context;
  /** Writes this hop's W3C fields into `carrier`: pass a copy, never the caller's object. */
  inject<Carrier>(carrier: Carrier, setter?: TextMapSetter<Carrier>, fields?: InjectFields): void;
  /** This hop's W3C fields as a new plain object. */
  fields(fields?: InjectFields): Record<string, string>;
  /** Ends the span (once) with the outcome. */
  end(outcome?: HopOutcome): void;
}

interface SignatureCacheEntry {
  key: string;
  signature: string;
  refreshAt: number;
}
// HMAC on every message is measurable; a signature stays good for half its lifetime. One cache
// per keyring: two keyrings may share a key id ('k0' by default) with different secrets.
const signatureCaches = new WeakMap<SigningKeyring, Map<string, SignatureCacheEntry>>();

function signedEntry(entry: SessionEntry, keyring: SigningKeyring): SessionEntry {
  let signatureCache = signatureCaches.get(keyring);
  if (signatureCache === undefined) {
    signatureCache = new Map();
    signatureCaches.set(keyring, signatureCache);
  }
  const now = Math.floor(Date.now() / 1000);
  const cacheKey = `${keyring.activeKeyId}|${entry.sessionId}|${entry.rootSpanId ?? ''}|${entry.traceFlags ?? ''}`;
  const cached = signatureCache.get(entry.sessionId);
  if (cached !== undefined && cached.key === cacheKey && cached.refreshAt > now) return { ...entry, signature: cached.signature };
  const unsigned: SessionEntry = { sessionId: entry.sessionId };
  if (entry.rootSpanId !== undefined) unsigned.rootSpanId = entry.rootSpanId;
  if (entry.traceFlags !== undefined) unsigned.traceFlags = entry.traceFlags;
  const signature = signSessionEntry(unsigned, keyring, now);
  if (signatureCache.size > 10_000) signatureCache.clear();
  signatureCache.set(entry.sessionId, { key: cacheKey, signature, refreshAt: now + Math.floor(keyring.ttlSeconds / 2) });
  return { ...unsigned, signature };
}

/** The context an outbound hop injects: the session entry permitted (and signed with a key). */
export function outboundInjectContext(ctx: Context, signing: SigningKeyring | null | undefined, fields?: InjectFields): Context {
  let out = ctx.setValue(SESSION_PERMIT_KEY, true);
  if (fields !== undefined) out = out.setValue(INJECT_FIELDS_KEY, fields);
  const entry = getSessionEntry(ctx);
  if (entry === undefined) return out;
  const known = sharedState().sessions.get(entry.sessionId);
  const complete: SessionEntry = {
    sessionId: entry.sessionId,
    ...((entry.rootSpanId ?? known?.rootSpanId) !== undefined ? { rootSpanId: entry.rootSpanId ?? known?.rootSpanId } : {}),
    ...((entry.traceFlags ?? known?.traceFlags) !== undefined ? { traceFlags: entry.traceFlags ?? known?.traceFlags } : {}),
  };
  const keyring = keyringFor(signing);
  return contextWithSessionEntry(out, keyring === undefined ? complete : signedEntry(complete, keyring));
}

/**
 * Outbound hop: start the CLIENT/PRODUCER span and inject its context (with the session entry,
 * signed when a key is set) into a carrier the adapter copied. Never throws.
 */
export function startOutboundHop(options: OutboundHopOptions): OutboundHop {
  const base = options.parentContext ?? otelContext.active();
  const span =
    options.startSpan === false
      ? undefined
      : tracer().startSpan(options.spanName, { kind: options.kind ?? SpanKind.CLIENT, ...(options.attributes ? { attributes: options.attributes } : {}) }, base);
  const ctx = span === undefined ? base : trace.setSpan(base, span);
  const propagator = options.propagator ?? libraryPropagator();
  let done = false;
  const hop: OutboundHop = {
    span,
    context: ctx,
    inject(carrier, setter, fields) {
      try {
        propagator.inject(outboundInjectContext(ctx, options.signing, fields), carrier, (setter ?? defaultTextMapSetter) as TextMapSetter<typeof carrier>);
      } catch (err) {
        log.warn('outbound inject failed; the message goes without context', err as Error);
      }
    },
    fields(fields) {
      const out: Record<string, string> = {};
      hop.inject(out, defaultTextMapSetter, fields);
      return out;
    },
    end(outcome) {
      if (done || span === undefined) return;
      done = true;
      finish(span, outcome);
      span.end();
    },
  };
  return hop;
}
