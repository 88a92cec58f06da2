import {
  context as otelContext,
  propagation,
  trace,
  TraceFlags,
  SpanKind,
  SpanStatusCode,
  baggageEntryMetadataFromString,
  isSpanContextValid,
  type Attributes,
  type Context,
  type Span,
  type Link,
} from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { INBOUND_FLAGS_KEY, type InboundFlags } from '../base/context-keys.js';
import { log } from '../base/diag.js';
import {
  SESSION_BAGGAGE_KEY,
  formatSessionEntryMetadata,
  isValidSessionId,
  parseSessionEntry,
  type SessionEntry,
} from './entry.js';
import { ATTR } from './attributes.js';
import { sharedState } from '../base/state.js';
import { tracer } from '../base/tracer.js';

/** How a session ended, as AgentOps records it. */
export type SessionEndState = 'Success' | 'Fail' | 'Indeterminate';

/** Options of `startSession`. */
export interface StartSessionOptions {
  /** Human name of the session (span name and `agentops.entity.name`). */
  name?: string;
  /** Tags shown on the session in AgentOps (`agentops.tags`). */
  tags?: string[];
  /** Extra attributes for the session's root span. */
  attributes?: Attributes;
}

/** A running AgentOps session: one trace whose id is the session id. */
export interface Session {
  /** Session id = the root span's trace id (32 lowercase hex). */
  readonly id: string;
  /** Span id of the root span; rejoining hops parent under it. */
  readonly rootSpanId: string;
  /** The session's root span. */
  readonly span: Span;
  /** A context holding the root span and the session baggage entry. */
  readonly context: Context;
  /** Sets `agentops.session.end_state` and ends the root span; later calls are ignored. */
  end(state?: SessionEndState): void;
}

/** W3C Level 2 `random` trace flag: the trace id's right 7 bytes are random. */
export const RANDOM_TRACE_FLAG = 0x02;
/** Live sessions remembered for `withSession(id)`; the oldest are forgotten beyond this. */
const MAX_REMEMBERED_SESSIONS = 10_000;

function randomHex(bytes: number): string {
  let hex: string;
  do hex = randomBytes(bytes).toString('hex');
  while (/^0+$/.test(hex));
  return hex;
}

/**
 * Builds a context in which `entry` is the session: its baggage entry is set (other entries of
 * `base` are kept) and the inbound-flags slot carries the session's flags so that outbound
 * traceparents keep the W3C random bit.
 */
export function contextWithSessionEntry(base: Context, entry: SessionEntry): Context {
  const metadata = formatSessionEntryMetadata(entry);
  const current = propagation.getBaggage(base);
  const existing = current?.getEntry(SESSION_BAGGAGE_KEY);
  let ctx = base;
  // The same entry already there (every hop of a session): keep that Baggage, whose serialized
  // form the propagator has already cached.
  if (existing === undefined || existing.value !== entry.sessionId || (existing.metadata?.toString() ?? '') !== metadata) {
    const baggage = (current ?? propagation.createBaggage()).setEntry(SESSION_BAGGAGE_KEY, {
      value: entry.sessionId,
      ...(metadata ? { metadata: baggageEntryMetadataFromString(metadata) } : {}),
    });
    ctx = propagation.setBaggage(base, baggage);
  }
  if (entry.traceFlags !== undefined) {
    // Usually already there, from the traceparent of the same trace: each set copies the context.
    const present = ctx.getValue(INBOUND_FLAGS_KEY) as InboundFlags | undefined;
    if (present?.traceId !== entry.sessionId || present.flags !== entry.traceFlags) {
      const flags: InboundFlags = { traceId: entry.sessionId, flags: entry.traceFlags };
      ctx = ctx.setValue(INBOUND_FLAGS_KEY, flags);
    }
  }
  return ctx;
}

/** The validated session entry of a context's baggage, or undefined. */
export function getSessionEntry(ctx: Context = otelContext.active()): SessionEntry | undefined {
  const entry = propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY);
  if (entry === undefined) return undefined;
  return parseSessionEntry(entry.value, entry.metadata?.toString());
}

/** The session id of a context (default: the active one), validated; undefined outside sessions. */
export function getSessionId(ctx: Context = otelContext.active()): string | undefined {
  const value = propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY)?.value;
  return isValidSessionId(value) ? value : undefined;
}

function remember(id: string, rootSpanId: string, traceFlags: number): void {
  const sessions = sharedState().sessions;
  if (sessions.size >= MAX_REMEMBERED_SESSIONS) {
    const oldest = sessions.keys().next().value;
    if (oldest !== undefined) sessions.delete(oldest);
  }
  sessions.set(id, { rootSpanId, traceFlags });
}

/**
 * Starts a session: a new root span (its trace id is the session id), linked to the span active
 * at the call if any. The root is not activated: use `withSession` to run work inside it.
 */
export function startSession(options: StartSessionOptions = {}): Session {
  const active = otelContext.active();
  const caller = trace.getSpanContext(active);
  const links: Link[] = caller !== undefined && isSpanContextValid(caller) ? [{ context: caller }] : [];
  const name = typeof options.name === 'string' && options.name.length > 0 ? options.name : undefined;
  const attributes: Attributes = { ...options.attributes, [ATTR.spanKind]: 'session' };
  if (name !== undefined) attributes[ATTR.entityName] = name;
  if (Array.isArray(options.tags)) attributes[ATTR.tags] = options.tags.filter((t) => typeof t === 'string');

  let span = tracer().startSpan(name === undefined ? 'session' : `${name}.session`, { root: true, kind: SpanKind.INTERNAL, links, attributes }, active);
  let spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) {
    // No SDK registered: sessions must still have ids, so mint them; nothing is recorded.
    span = trace.wrapSpanContext({ traceId: randomHex(16), spanId: randomHex(8), traceFlags: TraceFlags.NONE, isRemote: false });
    spanContext = span.spanContext();
  }
  const id = spanContext.traceId;
  span.setAttribute(ATTR.sessionId, id);
  span.setAttribute(ATTR.agentopsSessionId, id);
  // The SDK's ids are random, so the session may claim the Level 2 random flag for its trace.
  const traceFlags = (spanContext.traceFlags & TraceFlags.SAMPLED) | RANDOM_TRACE_FLAG;
  const entry: SessionEntry = { sessionId: id, rootSpanId: spanContext.spanId, traceFlags };
  const ctx = contextWithSessionEntry(trace.setSpan(active, span), entry);
  remember(id, spanContext.spanId, traceFlags);

  let ended = false;
  return {
    id,
    rootSpanId: spanContext.spanId,
    span,
    context: ctx,
    end(state: SessionEndState = 'Success') {
      if (ended) {
        log.debug(`session ${id} already ended`);
        return;
      }
      ended = true;
      const endState: SessionEndState = state === 'Fail' || state === 'Indeterminate' ? state : 'Success';
      if (endState !== state) log.warn(`session end state ${String(state)} is not Success|Fail|Indeterminate; using Success`);
      span.setAttribute(ATTR.endState, endState);
      if (endState === 'Fail') span.setStatus({ code: SpanStatusCode.ERROR, message: 'session failed' });
      span.end();
      sharedState().sessions.delete(id);
    },
  };
}

/** The context of a session given as a `Session` or its id, on top of `base`. */
export function sessionContext(sessionOrId: Session | string, base: Context = otelContext.active()): Context | undefined {
  if (typeof sessionOrId === 'object' && sessionOrId !== null && isValidSessionId((sessionOrId as Session).id)) {
    const session = sessionOrId as Session;
    const entry = getSessionEntry(session.context)!;
    return contextWithSessionEntry(trace.setSpan(base, session.span), entry);
  }
  if (!isValidSessionId(sessionOrId)) {
    log.warn('withSession: not a session or a session id (32 lowercase hex, not all zeros); running outside any session');
    return undefined;
  }
  const known = sharedState().sessions.get(sessionOrId);
  // An id started elsewhere: parent under a stand-in span id so the work still lands in the
  // session's trace; spans will show a missing parent until the real root arrives.
  const rootSpanId = known?.rootSpanId ?? randomHex(8);
  const traceFlags = known?.traceFlags ?? TraceFlags.SAMPLED;
  const parent = trace.wrapSpanContext({ traceId: sessionOrId, spanId: rootSpanId, traceFlags: traceFlags & TraceFlags.SAMPLED, isRemote: true });
  return contextWithSessionEntry(trace.setSpan(base, parent), {
    sessionId: sessionOrId,
    ...(known ? { rootSpanId, traceFlags } : {}),
  });
}

/** Runs `fn` inside the session (its trace and its baggage entry) and returns what `fn` returns. */
export function withSession<T>(sessionOrId: Session | string, fn: () => T): T {
  const ctx = sessionContext(sessionOrId);
  return ctx === undefined ? fn() : otelContext.with(ctx, fn);
}
