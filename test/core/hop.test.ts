import { context, defaultTextMapGetter, propagation, trace, SpanKind, type Span } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createKeyring, getSessionId, startSession, withSession, type Session } from '../../src/index.js';
import { runInboundHop, startInboundHop, startOutboundHop } from '../../src/engine.js';
import { signSessionEntry } from '../../src/policy/signing.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';

const t = useTracing();

const keyring = createKeyring('0123456789abcdef-test-signing-key');
const otherKeyring = createKeyring('another-key-of-at-least-16-bytes');

/** Headers a real upstream hop writes while inside `session`. */
function upstreamHeaders(session: Session, signing: typeof keyring | null = null): Record<string, string> {
  return withSession(session, () => {
    const hop = startOutboundHop({ spanName: 'upstream', signing });
    const headers = hop.fields();
    hop.end();
    return headers;
  });
}

function inbound(carrier: Record<string, string>, options: Partial<Parameters<typeof startInboundHop>[0]> = {}) {
  return startInboundHop({ carrier, getter: defaultTextMapGetter, spanName: 'in', trust: 'trust', signing: null, ...options });
}

describe('outbound hop', () => {
  it('injects traceparent and the session entry with root span id and flags into the carrier', () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    session.end();
    const upstream = t.one('upstream');
    expect(headers.traceparent).toMatch(new RegExp(`^00-${session.id}-${upstream.spanContext().spanId}-0[23]$`));
    expect(headers.baggage).toContain(`agentops.session.id=${session.id}`);
    expect(headers.baggage).toContain(`root=${session.rootSpanId}`);
    expect(upstream.kind).toBe(SpanKind.CLIENT);
    expect(upstream.attributes['session.id']).toBe(session.id);
  });

  it('sets the W3C random flag for a session trace (Level 2)', () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    session.end();
    const flags = parseInt(headers.traceparent!.slice(-2), 16);
    expect(flags & 0x02).toBe(0x02);
    expect(flags & 0x01).toBe(0x01);
  });

  it('honours the fields decision: no baggage, or no traceparent', () => {
    const session = startSession();
    const [noBaggage, noTrace] = withSession(session, () => {
      const hop = startOutboundHop({ spanName: 'o', startSpan: false });
      return [hop.fields({ traceparent: true, baggage: false }), hop.fields({ traceparent: false, baggage: true })];
    });
    session.end();
    expect(noBaggage.traceparent).toBeDefined();
    expect(noBaggage.baggage).toBeUndefined();
    expect(noTrace.traceparent).toBeUndefined();
    expect(noTrace.tracestate).toBeUndefined();
    expect(noTrace.baggage).toContain(session.id);
  });

  it('signs the entry when a key is set', () => {
    const session = startSession();
    const headers = upstreamHeaders(session, keyring);
    session.end();
    expect(headers.baggage).toMatch(/sig=v1\.k0\.\d+\.[A-Za-z0-9_-]{43}/);
  });

  it('writes nothing for a context without a span or session', () => {
    const hop = startOutboundHop({ spanName: 'o', startSpan: false });
    expect(hop.fields()).toEqual({});
  });
});

describe('inbound hop: trust and shape', () => {
  it("'trust' + parent: continues the caller's span, in the session, stamped", async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const seen = await runInboundHop(
      { carrier: headers, getter: defaultTextMapGetter, spanName: 'in', kind: SpanKind.CONSUMER, trust: 'trust', signing: null },
      async (hop) => {
        await new Promise((r) => setTimeout(r, 2));
        expect(hop.shape).toBe('parent');
        return getSessionId();
      },
    );
    session.end();
    expect(seen).toBe(session.id);
    const span = t.one('in');
    expect(span.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(span)).toBe(t.one('upstream').spanContext().spanId);
    expect(span.kind).toBe(SpanKind.CONSUMER);
    expect(span.attributes['session.id']).toBe(session.id);
    expect(span.attributes['agentops.hop.shape']).toBe('parent');
  });

  it("'trust' + rejoin: child of the session root, linked to the predecessor", () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const hop = inbound(headers, { shape: 'rejoin' });
    hop.end();
    session.end();
    const span = t.one('in');
    expect(hop.shape).toBe('rejoin');
    expect(span.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(span)).toBe(session.rootSpanId);
    expect(span.links.map((l) => l.context.spanId)).toEqual([t.one('upstream').spanContext().spanId]);
    expect(span.links[0]!.attributes?.['agentops.link.type']).toBe('predecessor');
  });

  it('rejoins when the traceparent was lost but the session entry survived', () => {
    const session = startSession();
    const { baggage } = upstreamHeaders(session);
    const hop = inbound({ baggage: baggage! });
    hop.end();
    session.end();
    expect(hop.shape).toBe('rejoin');
    expect(parentSpanId(t.one('in'))).toBe(session.rootSpanId);
    expect(t.one('in').links).toHaveLength(0);
  });

  it("rejoins when the caller's trace is not the session's trace", () => {
    const session = startSession();
    const { baggage } = upstreamHeaders(session);
    const foreign = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
    const hop = inbound({ traceparent: foreign, baggage: baggage! });
    hop.end();
    session.end();
    const span = t.one('in');
    expect(span.spanContext().traceId).toBe(session.id);
    expect(span.links[0]!.context.traceId).toBe('ab'.repeat(16));
  });

  it("'link': new root trace linking the caller, no session, no baggage", () => {
    const session = startSession();
    const headers = { ...upstreamHeaders(session), baggage: `${upstreamHeaders(session).baggage},tenant=acme` };
    const hop = inbound(headers, { trust: 'link' });
    const inside = context.with(hop.context, () => getSessionId());
    hop.end();
    session.end();
    const span = t.one('in');
    expect(inside).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(session.id);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.links).toHaveLength(1);
    expect(span.attributes['session.id']).toBeUndefined();
    expect(hop.context.getValue(Symbol.for('OpenTelemetry Baggage Key'))).toBeUndefined();
  });

  it("'ignore': new root, no link, nothing taken", () => {
    const session = startSession();
    const hop = inbound(upstreamHeaders(session), { trust: 'ignore' });
    hop.end();
    session.end();
    const span = t.one('in');
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.links).toHaveLength(0);
    expect(hop.sessionId).toBeUndefined();
  });

  it('starts a plain root for a carrier without context', () => {
    const hop = inbound({});
    hop.end();
    expect(hop.shape).toBe('root');
    expect(t.one('in').parentSpanContext).toBeUndefined();
  });

  it('does not parent under whatever span is active in the server', () => {
    const framework = trace.getTracer('fw').startSpan('framework');
    const hop = context.with(trace.setSpan(context.active(), framework), () => inbound({}));
    hop.end();
    framework.end();
    expect(t.one('in').spanContext().traceId).not.toBe(framework.spanContext().traceId);
  });

  it('records handler errors and rethrows them unchanged', async () => {
    const boom = new TypeError('handler failed');
    await expect(
      runInboundHop({ carrier: {}, getter: defaultTextMapGetter, spanName: 'in', trust: 'trust', signing: null }, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    const span = t.one('in');
    expect(span.status.code).toBe(2);
    expect(span.events[0]!.name).toBe('exception');
  });

  it('never throws on hostile carriers or getters', () => {
    const throwing = {
      get: () => {
        throw new Error('getter');
      },
      keys: () => [],
    };
    for (const carrier of [null, undefined, 42, 'str', { traceparent: ['a', 'b'] }, { baggage: Buffer.alloc(100_000, 0xff) }]) {
      expect(() =>
        startInboundHop({ carrier, getter: defaultTextMapGetter as never, spanName: 'in', trust: 'trust', signing: null }).end(),
      ).not.toThrow();
      expect(() =>
        startInboundHop({ carrier, getter: throwing as never, spanName: 'in', trust: 'trust', signing: null }).end(),
      ).not.toThrow();
    }
  });
});

describe('inbound hop: signing', () => {
  it('a valid signature leaves a link-mode caller linked unless the hop opts in (issue 13)', () => {
    const session = startSession();
    const linked = inbound(upstreamHeaders(session, keyring), { trust: 'link', signing: keyring });
    linked.end();
    expect(linked.trust).toBe('link');
    expect(linked.sessionId).toBeUndefined();
    t.reset();
    const hop = inbound(upstreamHeaders(session, keyring), { trust: 'link', signing: keyring, signedUpgrade: true });
    hop.end();
    session.end();
    expect(hop.trust).toBe('trust');
    expect(hop.sessionId).toBe(session.id);
    expect(t.one('in').spanContext().traceId).toBe(session.id);
  });

  it('an unsigned entry is dropped and its traceparent only linked', () => {
    const session = startSession();
    const hop = inbound(upstreamHeaders(session), { signing: keyring });
    hop.end();
    session.end();
    expect(hop.trust).toBe('link');
    expect(hop.sessionId).toBeUndefined();
    expect(t.one('in').spanContext().traceId).not.toBe(session.id);
  });

  it('an entry signed with an unknown key is refused; a rotated key set accepts both', () => {
    const session = startSession();
    const headers = upstreamHeaders(session, otherKeyring);
    expect(inbound(headers, { signing: keyring }).sessionId).toBeUndefined();
    const rotated = createKeyring({
      keys: { k0: '0123456789abcdef-test-signing-key', k1: 'another-key-of-at-least-16-bytes' },
      activeKeyId: 'k0',
    });
    const forRotation = upstreamHeaders(session, createKeyring({ keys: { k1: 'another-key-of-at-least-16-bytes' }, activeKeyId: 'k1' }));
    expect(inbound(forRotation, { signing: rotated }).sessionId).toBe(session.id);
    session.end();
  });

  it('tampered session id, tampered root span id and expired signatures are refused', () => {
    const session = startSession();
    const headers = upstreamHeaders(session, keyring);
    const other = startSession();
    const swapped = { ...headers, baggage: headers.baggage!.replace(session.id, other.id) };
    expect(inbound(swapped, { signing: keyring }).sessionId).toBeUndefined();
    const reRooted = { ...headers, baggage: headers.baggage!.replace(`root=${session.rootSpanId}`, `root=${'1'.repeat(16)}`) };
    expect(inbound(reRooted, { signing: keyring }).sessionId).toBeUndefined();
    const oldSig = signSessionEntry(
      { sessionId: session.id, rootSpanId: session.rootSpanId, traceFlags: 3 },
      keyring,
      Math.floor(Date.now() / 1000) - 2 * 86_400,
    );
    const expired = { baggage: `agentops.session.id=${session.id};root=${session.rootSpanId};flags=03;sig=${oldSig}` };
    expect(inbound(expired, { signing: keyring }).sessionId).toBeUndefined();
    session.end();
    other.end();
  });
});

describe('inbound hop: adopting an existing server span', () => {
  function instrumentationSpan(headers: Record<string, string>): Span {
    // What instrumentation-http does: continue the caller with the global propagator.
    const ctx = propagation.extract(context.active(), headers);
    return trace.getTracer('instrumentation-http').startSpan('GET', { kind: SpanKind.SERVER }, ctx);
  }

  it("adopts it under 'trust': no second span, session bound and stamped", () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const existing = instrumentationSpan(headers);
    const hop = inbound(headers, { existingSpan: existing });
    expect(hop.adopted).toBe(true);
    expect(context.with(hop.context, () => getSessionId())).toBe(session.id);
    hop.end({ attributes: { 'http.response.status_code': 200 } });
    existing.end();
    session.end();
    expect(t.byName('in')).toHaveLength(0);
    const adopted = t.one('GET');
    expect(adopted.attributes['session.id']).toBe(session.id);
    expect(adopted.attributes['agentops.hop.shape']).toBe('adopted');
    expect(adopted.attributes['http.response.status_code']).toBe(200);
  });

  it("starts its own root linking the adopted span under 'link'", () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const existing = instrumentationSpan(headers);
    const hop = inbound(headers, { existingSpan: existing, trust: 'link' });
    hop.end();
    existing.end();
    session.end();
    const own = t.one('in');
    expect(own.parentSpanContext).toBeUndefined();
    expect(own.links.map((l) => l.context.spanId)).toContain(existing.spanContext().spanId);
  });
});
