import {
  context as otelContext,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { log } from '../base/diag.js';
import { warnIfNotInitialised } from '../base/init-warning.js';
import { randomHexId } from '../base/ids.js';
import { sharedState } from '../base/state.js';
import { tracer } from '../base/tracer.js';
import { measureStart, recordSession } from '../metrics/work.js';
import { ATTR } from './attributes.js';
import { contextWithSessionEntry, getSessionEntry, sessionRootSpanContext } from './context.js';
import { isValidSessionId, type SessionEntry } from './entry.js';

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
const RANDOM_TRACE_FLAG = 0x02;
/**
 * Starts a session: a new root span (its trace id is the session id), linked to the span active
 * at the call if any. The root is not activated: use `withSession` to run work inside it.
 */
export function startSession(options: StartSessionOptions = {}): Session {
  warnIfNotInitialised();
  const active = otelContext.active();
  const caller = trace.getSpanContext(active);
  const links: Link[] = caller !== undefined && isSpanContextValid(caller) ? [{ context: caller }] : [];
  const name = typeof options.name === 'string' && options.name.length > 0 ? options.name : undefined;
  const attributes: Attributes = { ...options.attributes, [ATTR.spanKind]: 'session' };
  if (name !== undefined) attributes[ATTR.entityName] = name;
  if (Array.isArray(options.tags)) attributes[ATTR.tags] = options.tags.filter((t) => typeof t === 'string');

  let span = tracer().startSpan(
    name === undefined ? 'session' : `${name}.session`,
    { root: true, kind: SpanKind.INTERNAL, links, attributes },
    active,
  );
  let spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) {
    // No SDK registered: sessions must still have ids, so mint them; nothing is recorded.
    span = trace.wrapSpanContext({ traceId: randomHexId(16), spanId: randomHexId(8), traceFlags: TraceFlags.NONE, isRemote: false });
    spanContext = span.spanContext();
  }
  const id = spanContext.traceId;
  span.setAttribute(ATTR.sessionId, id);
  span.setAttribute(ATTR.agentopsSessionId, id);
  // The SDK's ids are random, so the session may claim the Level 2 random flag for its trace.
  const traceFlags = (spanContext.traceFlags & TraceFlags.SAMPLED) | RANDOM_TRACE_FLAG;
  const entry: SessionEntry = { sessionId: id, rootSpanId: spanContext.spanId, traceFlags };
  const ctx = contextWithSessionEntry(trace.setSpan(active, span), entry);
  sharedState().sessions.set(id, { rootSpanId: spanContext.spanId, traceFlags });

  const started = measureStart();
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
      recordSession(name, endState, started);
    },
  };
}

/** Contexts built by {@link sessionContext} per session, by base context. */
const sessionContexts = new WeakMap<Session, WeakMap<Context, Context>>();

/** The context of a session given as a `Session` or its id, on top of `base`. */
export function sessionContext(sessionOrId: Session | string, base: Context = otelContext.active()): Context | undefined {
  if (typeof sessionOrId === 'object' && sessionOrId !== null && isValidSessionId((sessionOrId as Session).id)) {
    const session = sessionOrId as Session;
    const entry = getSessionEntry(session.context);
    if (entry?.sessionId === session.id) {
      // Contexts are immutable: the same session on the same base gives the same context (a
      // loop or a server calling withSession from one context builds it once).
      let built = sessionContexts.get(session);
      const known = built?.get(base);
      if (known !== undefined) return known;
      let ctx = trace.setSpan(base, session.span);
      // Outside any baggage, take the session's own Baggage object: every withSession of a
      // session then shares one, and what is derived from it once (the serialized header, the
      // entry read back) is reused instead of rebuilt per call.
      const own = propagation.getBaggage(session.context);
      if (propagation.getBaggage(base) === undefined && own !== undefined) ctx = propagation.setBaggage(ctx, own);
      ctx = contextWithSessionEntry(ctx, entry);
      if (built === undefined) sessionContexts.set(session, (built = new WeakMap()));
      built.set(base, ctx);
      return ctx;
    }
    // Not a context startSession made: the session is taken by its id.
    sessionOrId = session.id;
  }
  if (!isValidSessionId(sessionOrId)) {
    log.warn('withSession: not a session or a session id (32 lowercase hex, not all zeros); running outside any session');
    return undefined;
  }
  // An id started here: parent under its real root. An id started elsewhere: the entry has no
  // root, so the work parents under a stand-in and still lands in the session's trace; spans
  // show a missing parent until the real root arrives.
  const known = sharedState().sessions.get(sessionOrId);
  const entry: SessionEntry = known === undefined ? { sessionId: sessionOrId } : { sessionId: sessionOrId, ...known };
  return contextWithSessionEntry(trace.setSpan(base, trace.wrapSpanContext(sessionRootSpanContext(entry))), entry);
}

/** Runs `fn` inside the session (its trace and its baggage entry) and returns what `fn` returns. */
export function withSession<T>(sessionOrId: Session | string, fn: () => T): T {
  warnIfNotInitialised();
  const ctx = sessionContext(sessionOrId);
  return ctx === undefined ? fn() : otelContext.with(ctx, fn);
}
