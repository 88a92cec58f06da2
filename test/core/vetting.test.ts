// Issue 13, defect 1 and the interop option, in process: a session entry that reached a context
// any other way than through this library (the global propagator's extract called by another
// instrumentation, user code) is inert: not stamped on spans, not injected, not signed. Vetted
// sessions (startSession/withSession, an accepted inbound hop, the hop engine's
// contextWithVettedSession, init({ vetGlobalExtract })) are.

import { context, type Context, defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { injectSessionHeaders } from '../../adapters/http/index.js';
import { contextWithVettedSession, startOutboundHop } from '../../src/engine.js';
import { createKeyring, getSessionId, init, startSession, withSession, type InitHandle } from '../../src/index.js';
import { signSessionEntry, verifySessionEntry } from '../../src/policy/signing.js';
import { sessionPropagator } from '../../src/propagator/session-propagator.js';
import { SESSION_BAGGAGE_KEY } from '../../src/session/entry.js';
import { entryOfBaggage } from '../helpers/session-entry.js';
import { captureDiag } from '../bullmq/helpers.js';
import { useTracing } from '../helpers/otel.js';

const KEY = 'vetting-test-signing-key-0123456789';
const keyring = createKeyring(KEY);
const VICTIM = '4bf92f3577b34da6a3ce929d0e0e4736';
const ROOT = '00f067aa0ba902b7';
/** What an attacker sends: the victim's session, unsigned, and a traceparent in the victim's trace. */
const forged = {
  traceparent: `00-${VICTIM}-${'e'.repeat(16)}-01`,
  baggage: `${SESSION_BAGGAGE_KEY}=${VICTIM};root=${ROOT};flags=03,role=admin`,
};

/** The `baggage` a permitted inject writes from `ctx`. */
function injectedBaggage(ctx: Context): string {
  const out: Record<string, string> = {};
  sessionPropagator({ alwaysInjectSession: true }).inject(ctx, out, defaultTextMapSetter);
  return out.baggage ?? '';
}

/** What a stock instrumentation does before any of our hops runs: the global extract. */
function globallyExtracted(carrier: Record<string, string> = forged) {
  return propagation.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

describe('an unvetted entry in the context (issue 13, defect 1)', () => {
  const t = useTracing();

  it('is not stamped on spans of its trace, and the diag logger says why once', () => {
    const diag = captureDiag();
    try {
      context.with(globallyExtracted(), () => {
        const tracer = trace.getTracer('stock-instrumentation');
        for (let i = 0; i < 3; i++) tracer.startSpan(`request ${i}`).end();
        expect(getSessionId()).toBeUndefined();
      });
      const spans = t.spans();
      expect(spans).toHaveLength(3);
      for (const span of spans) {
        expect(span.spanContext().traceId).toBe(VICTIM); // the stock span continued the caller's trace
        expect(span.attributes['session.id']).toBeUndefined();
        expect(span.attributes['agentops.session.id']).toBeUndefined();
      }
      expect(diag.matching('not vetted by this library')).toHaveLength(1);
    } finally {
      diag.stop();
    }
  });

  it('is neither injected nor signed by an outbound hop, with or without a key', () => {
    context.with(globallyExtracted(), () => {
      for (const signing of [keyring, null]) {
        const fields = startOutboundHop({ spanName: 'out', startSpan: false, signing }).fields();
        expect(fields.baggage ?? '').not.toContain(SESSION_BAGGAGE_KEY);
      }
      const headers = injectSessionHeaders({}, 'http://127.0.0.1:9/next', { signingKey: KEY });
      expect(headers.baggage ?? '').not.toContain(SESSION_BAGGAGE_KEY);
      // The trace goes on (the stock span's), the session does not.
      expect(headers.traceparent?.slice(3, 35)).toBe(VICTIM);
    });
  });

  it('is not forwarded by the global propagator, even with globalSessionBaggage', async () => {
    const { sharedState } = await import('../../src/base/state.js');
    sharedState().globalSessionBaggage = true;
    try {
      const out: Record<string, string> = {};
      propagation.inject(globallyExtracted(), out, defaultTextMapSetter);
      expect(out.baggage).toBe('role=admin');
    } finally {
      sharedState().globalSessionBaggage = false;
    }
  });

  it('a vetted session in the same process is stamped, injected and signed afresh', () => {
    const session = startSession({ name: 'mine' });
    withSession(session, () => {
      trace.getTracer('any').startSpan('inside').end();
      const fields = startOutboundHop({ spanName: 'out', startSpan: false, signing: keyring }).fields();
      const entry = entryOfBaggage(fields.baggage!);
      expect(entry?.sessionId).toBe(session.id);
      expect(verifySessionEntry(entry!, keyring)).toBe('valid');
    });
    session.end();
    expect(t.one('inside').attributes['session.id']).toBe(session.id);
  });

  it("the hop engine's contextWithVettedSession vets an entry, without the signature it came with", () => {
    const received = { sessionId: VICTIM, rootSpanId: ROOT, traceFlags: 3 };
    const sig = signSessionEntry(received, keyring);
    const ctx = contextWithVettedSession(globallyExtracted(), { ...received, signature: sig });
    expect(getSessionId(ctx)).toBe(VICTIM);
    expect(entryOfBaggage(injectedBaggage(ctx))).toEqual(received);
    const fields = startOutboundHop({ spanName: 'out', startSpan: false, signing: null, parentContext: ctx }).fields();
    expect(fields.baggage).not.toContain('sig=');
  });

  it('user code that replaces the vetted entry in the baggage leaves the session: the replacement is inert', () => {
    const session = startSession();
    const bag = propagation.getBaggage(session.context)!.setEntry(SESSION_BAGGAGE_KEY, { value: VICTIM });
    const swapped = propagation.setBaggage(session.context, bag);
    expect(getSessionId(swapped)).toBeUndefined();
    session.end();
  });
});

describe('vetExtractedSession / init({ vetGlobalExtract }) (issue 13, interop)', () => {
  let handle: InitHandle | undefined;
  afterEach(async () => {
    await handle?.shutdown();
    handle = undefined;
  });

  it('a vetting propagator vets what it extracts, dropping the received signature', () => {
    const signed = `${SESSION_BAGGAGE_KEY}=${VICTIM};root=${ROOT};flags=03;sig=${signSessionEntry({ sessionId: VICTIM, rootSpanId: ROOT, traceFlags: 3 }, keyring)}`;
    const ctx = sessionPropagator({ vetExtractedSession: true }).extract(ROOT_CONTEXT, { baggage: signed }, defaultTextMapGetter);
    expect(getSessionId(ctx)).toBe(VICTIM);
    expect(entryOfBaggage(injectedBaggage(ctx))).toEqual({ sessionId: VICTIM, rootSpanId: ROOT, traceFlags: 3 });
    expect(getSessionId(sessionPropagator().extract(ROOT_CONTEXT, { baggage: signed }, defaultTextMapGetter))).toBeUndefined();
  });

  it('with init({ vetGlobalExtract: true }) spans started from the global extract are stamped; by default they are not', async () => {
    for (const vetGlobalExtract of [false, true]) {
      const exporter = new InMemorySpanExporter();
      handle = init({ serviceName: 'worker', exporters: [exporter], vetGlobalExtract });
      context.with(globallyExtracted(), () => trace.getTracer('bullmq-otel').startSpan('process').end());
      await handle.forceFlush();
      const [span] = exporter.getFinishedSpans();
      expect(span?.spanContext().traceId).toBe(VICTIM);
      expect(span?.attributes['session.id']).toBe(vetGlobalExtract ? VICTIM : undefined);
      await handle.shutdown();
      handle = undefined;
    }
  });

  it('rejects a non-boolean vetGlobalExtract at setup, naming it', () => {
    expect(() => init({ vetGlobalExtract: 'yes' as never })).toThrow(/init vetGlobalExtract/);
  });
});
