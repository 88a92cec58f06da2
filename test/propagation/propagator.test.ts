import {
  baggageEntryMetadataFromString,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import { suppressTracing, TraceState as CoreTraceState } from '@opentelemetry/core';
import { afterEach, describe, expect, it } from 'vitest';
import { INBOUND_FLAGS_KEY, INJECT_FIELDS_KEY, SESSION_PERMIT_KEY } from '../../src/base/context-keys.js';
import { sessionPropagator, SessionPropagator } from '../../src/propagator/session-propagator.js';
import { TraceState } from '../../src/propagation/tracestate.js';
import { contextWithVettedSession } from '../../src/session/context.js';
import { SESSION_BAGGAGE_KEY } from '../../src/session/entry.js';
import { sharedState } from '../../src/base/state.js';

const T = '0af7651916cd43dd8448eb211c80319c';
const S = 'b7ad6b7169203331';
const CHILD = '00f067aa0ba902b7';
const SID = '4bf92f3577b34da6a3ce929d0e0e4736';

const p = sessionPropagator();

function extract(carrier: Record<string, unknown>, prop: SessionPropagator = p, ctx: Context = ROOT_CONTEXT): Context {
  return prop.extract(ctx, carrier, defaultTextMapGetter);
}

function inject(ctx: Context, prop: SessionPropagator = p): Record<string, string> {
  const carrier: Record<string, string> = {};
  prop.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

/** The context a child span of the extracted one would have: new span id, only the sampled bit (as the SDK does). */
function childOf(ctx: Context, spanId = CHILD): Context {
  const parent = trace.getSpanContext(ctx);
  if (!parent) throw new Error('no span context');
  return trace.setSpanContext(ctx, {
    traceId: parent.traceId,
    spanId,
    traceFlags: parent.traceFlags & TraceFlags.SAMPLED,
    isRemote: false,
    traceState: parent.traceState,
  });
}

function baggageOf(ctx: Context): Record<string, string> | undefined {
  const b = propagation.getBaggage(ctx);
  return b === undefined ? undefined : Object.fromEntries(b.getAllEntries().map(([k, e]) => [k, e.value]));
}

afterEach(() => {
  sharedState().globalSessionBaggage = false;
});

describe('extract: traceparent and tracestate', () => {
  it('sets a remote span context and the inbound flags', () => {
    const ctx = extract({ traceparent: `00-${T}-${S}-03`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' });
    const sc = trace.getSpanContext(ctx);
    expect(sc).toMatchObject({ traceId: T, spanId: S, traceFlags: 3, isRemote: true });
    expect(sc?.traceState?.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(sc?.traceState).toBeInstanceOf(TraceState);
    expect(ctx.getValue(INBOUND_FLAGS_KEY)).toEqual({ traceId: T, flags: 3 });
  });

  it('a repeated traceparent is invalid (and counted)', () => {
    const before = sharedState().counters.traceparentRejected;
    const ctx = extract({ traceparent: [`00-${T}-${S}-01`, `00-${T}-${S}-01`] });
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(sharedState().counters.traceparentRejected).toBe(before + 1);
  });

  it('an invalid traceparent leaves the context as it was', () => {
    const ctx = extract({ traceparent: `00-${T}-${S}-01-extra`, tracestate: 'a=1' });
    expect(ctx).toBe(ROOT_CONTEXT);
  });

  it('tracestate is ignored without a valid traceparent and discarded whole when invalid', () => {
    expect(trace.getSpanContext(extract({ tracestate: 'a=1' }))).toBeUndefined();
    const ctx = extract({ traceparent: `00-${T}-${S}-01`, tracestate: 'a=1,B=2' });
    expect(trace.getSpanContext(ctx)?.traceState).toBeUndefined();
    expect(trace.getSpanContext(ctx)?.traceId).toBe(T);
  });

  it('multiple tracestate headers combine in order', () => {
    const ctx = extract({ traceparent: `00-${T}-${S}-01`, tracestate: ['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'] });
    expect(trace.getSpanContext(ctx)?.traceState?.serialize()).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
  });

  it('reads Buffers (kafkajs) and a one-element array', () => {
    const ctx = extract({ traceparent: [Buffer.from(`00-${T}-${S}-01`)], baggage: Buffer.from('a=1') });
    expect(trace.getSpanContext(ctx)?.traceId).toBe(T);
    expect(baggageOf(ctx)).toEqual({ a: '1' });
  });
});

describe('extract: B3', () => {
  const b3T = '80f198ee56343ba864fe8b2a57d3eff7';
  const b3S = 'e457b5a2e4d86bd1';
  // B3 extraction is opt-in (issue 14): on here, off by default (last test).
  const b3On = sessionPropagator({ b3Extract: true });

  it('single header', () => {
    const ctx = extract({ b3: `${b3T}-${b3S}-1` }, b3On);
    expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: b3T, spanId: b3S, traceFlags: 1, isRemote: true });
  });

  it('multi headers', () => {
    const ctx = extract({ 'x-b3-traceid': b3T, 'x-b3-spanid': b3S, 'x-b3-sampled': '1' }, b3On);
    expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: b3T, spanId: b3S, traceFlags: 1, isRemote: true });
  });

  it('64-bit trace ids are left-padded, uppercase ids lowercased', () => {
    const ctx = extract({ 'x-b3-traceid': '64FE8B2A57D3EFF7', 'x-b3-spanid': b3S.toUpperCase(), 'x-b3-sampled': '0' }, b3On);
    expect(trace.getSpanContext(ctx)).toMatchObject({ traceId: '000000000000000064fe8b2a57d3eff7', spanId: b3S, traceFlags: 0 });
  });

  it('W3C wins when both are present', () => {
    const ctx = extract({ traceparent: `00-${T}-${S}-01`, b3: `${b3T}-${b3S}-1` }, b3On);
    expect(trace.getSpanContext(ctx)?.traceId).toBe(T);
  });

  it('B3 is used when the traceparent is invalid, and not at all when disabled', () => {
    expect(trace.getSpanContext(extract({ traceparent: 'garbage', b3: `${b3T}-${b3S}-1` }, b3On))?.traceId).toBe(b3T);
    expect(trace.getSpanContext(extract({ b3: `${b3T}-${b3S}-1` }, sessionPropagator({ b3Extract: false })))).toBeUndefined();
    expect(trace.getSpanContext(extract({ b3: `${b3T}-${b3S}-1` }))).toBeUndefined();
  });

  it('b3Inject writes single or multi headers alongside traceparent', () => {
    const ctx = extract({ traceparent: `00-${T}-${S}-01` });
    expect(inject(ctx, sessionPropagator({ b3Inject: 'single' })).b3).toBe(`${T}-${S}-1`);
    const multi = inject(ctx, sessionPropagator({ b3Inject: 'multi' }));
    expect(multi['x-b3-traceid']).toBe(T);
    expect(sessionPropagator({ b3Inject: 'multi' }).fields()).toContain('x-b3-traceid');
  });
});

describe('extract: baggage', () => {
  it('replaces the context baggage with the parsed one, properties kept as metadata', () => {
    const prior = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ old: { value: 'x' } }));
    const ctx = extract({ baggage: 'a=1;p=v, b=' }, p, prior);
    expect(baggageOf(ctx)).toEqual({ a: '1', b: '' });
    expect(propagation.getBaggage(ctx)?.getEntry('a')?.metadata?.toString()).toBe('p=v');
  });

  it('with nothing valid left, the context has no baggage', () => {
    const prior = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ old: { value: 'x' } }));
    expect(propagation.getBaggage(extract({ baggage: 'bad value, =' }, p, prior))).toBeUndefined();
    expect(propagation.getBaggage(extract({ baggage: '' }))).toBeUndefined();
  });

  it('an absent baggage header leaves the context baggage alone', () => {
    const prior = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ old: { value: 'x' } }));
    expect(baggageOf(extract({}, p, prior))).toEqual({ old: 'x' });
  });

  it('a `__proto__` key stays an ordinary entry', () => {
    expect(baggageOf(extract({ baggage: '__proto__=x,a=1' }))).toEqual({ ['__proto__']: 'x', a: '1' });
  });

  it('repeated baggage headers combine', () => {
    expect(baggageOf(extract({ baggage: ['a=1', 'b=2'] }))).toEqual({ a: '1', b: '2' });
  });

  it('a 1 MB baggage header: examined bytes bounded by maxScanBytes', () => {
    const c = sharedState().counters;
    const before = c.baggageBytesExamined;
    const ctx = extract({ baggage: `${SESSION_BAGGAGE_KEY}=${SID},` + 'k=v,'.repeat(256 * 1024) });
    expect(c.baggageBytesExamined - before).toBeLessThanOrEqual(65536);
    expect(propagation.getBaggage(ctx)?.getEntry(SESSION_BAGGAGE_KEY)?.value).toBe(SID);
  });

  it('the same for a 1 MB Buffer and an array of large Buffers', () => {
    const c = sharedState().counters;
    let before = c.baggageBytesExamined;
    extract({ baggage: Buffer.alloc(1024 * 1024, 0x61) });
    expect(c.baggageBytesExamined - before).toBeLessThanOrEqual(65536);
    before = c.baggageBytesExamined;
    extract({ baggage: Array.from({ length: 50 }, () => Buffer.alloc(64 * 1024, 0x61)) });
    expect(c.baggageBytesExamined - before).toBeLessThanOrEqual(65536);
  });
});

describe('inject: traceparent, tracestate and the random flag', () => {
  it('writes traceparent and tracestate for a valid span context', () => {
    const ctx = childOf(extract({ traceparent: `00-${T}-${S}-01`, tracestate: 'congo=t61rcWkgMzE' }));
    expect(inject(ctx)).toEqual({ traceparent: `00-${T}-${CHILD}-01`, tracestate: 'congo=t61rcWkgMzE' });
  });

  it('re-applies the inbound random bit for the same trace id (W3C Level 2)', () => {
    const ctx = childOf(extract({ traceparent: `00-${T}-${S}-03` }));
    expect(trace.getSpanContext(ctx)?.traceFlags).toBe(1); // the SDK kept only the sampled bit
    expect(inject(ctx).traceparent).toBe(`00-${T}-${CHILD}-03`);
    const unsampled = childOf(extract({ traceparent: `00-${T}-${S}-02` }));
    expect(inject(unsampled).traceparent).toBe(`00-${T}-${CHILD}-02`);
  });

  it('does not apply the random bit to another trace id', () => {
    const inboundCtx = extract({ traceparent: `00-${T}-${S}-03` });
    const other = trace.setSpanContext(inboundCtx, {
      traceId: SID,
      spanId: CHILD,
      traceFlags: TraceFlags.SAMPLED,
    });
    expect(inject(other).traceparent).toBe(`00-${SID}-${CHILD}-01`);
  });

  it('keeps the random bit set on the span context itself; zeroes undefined bits', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: T, spanId: S, traceFlags: 0xff });
    expect(inject(ctx).traceparent).toBe(`00-${T}-${S}-03`);
    const unset = childOf(extract({ traceparent: `00-${T}-${S}-01` }));
    expect(inject(unset).traceparent).toBe(`00-${T}-${CHILD}-01`);
  });

  it('future-version input goes out as version 00', () => {
    const ctx = childOf(extract({ traceparent: `cc-${T}-${S}-01-what-the-future-will-be-like` }));
    expect(inject(ctx).traceparent).toBe(`00-${T}-${CHILD}-01`);
  });

  it('writes nothing for an invalid span context, or when tracing is suppressed', () => {
    expect(inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: S, traceFlags: 1 }))).toEqual({});
    const ctx = childOf(extract({ traceparent: `00-${T}-${S}-01`, baggage: 'a=1' }));
    expect(inject(suppressTracing(ctx))).toEqual({});
  });

  it('lowercases uppercase ids from hand-built span contexts', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: T.toUpperCase(), spanId: S.toUpperCase(), traceFlags: 1 });
    expect(inject(ctx).traceparent).toBe(`00-${T}-${S}-01`);
  });

  it('a foreign TraceState is re-validated; a long one is shortened to 512', () => {
    const foreign = new CoreTraceState('a=1,b=2');
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: T, spanId: S, traceFlags: 1, traceState: foreign });
    expect(inject(ctx).tracestate).toBe('a=1,b=2');
    let ts = TraceState.fromEntries([]);
    for (let i = 0; i < 32; i++) ts = ts.set(`k${i}`, 'x'.repeat(40));
    const big = trace.setSpanContext(ROOT_CONTEXT, { traceId: T, spanId: S, traceFlags: 1, traceState: ts });
    const written = inject(big).tracestate as string;
    expect(written.length).toBeLessThanOrEqual(512);
    expect(written.startsWith('k31=')).toBe(true);
  });
});

describe('inject: baggage and the session permit', () => {
  const bag = propagation.createBaggage({
    [SESSION_BAGGAGE_KEY]: { value: SID, metadata: baggageEntryMetadataFromString('root=00f067aa0ba902b7;flags=03') },
    user: { value: 'Amélie' },
    empty: { value: '' },
  });
  /** The same baggage as another instrumentation's extract or user code leaves it: not vetted. */
  const unvetted = propagation.setBaggage(ROOT_CONTEXT, bag);
  const withBag = contextWithVettedSession(unvetted, { sessionId: SID, rootSpanId: '00f067aa0ba902b7', traceFlags: 3 });

  it('withholds the session entry without a permit', () => {
    expect(inject(withBag)).toEqual({ baggage: 'user=Am%C3%A9lie,empty=' });
  });

  it('writes it first with SESSION_PERMIT_KEY === true (and only true)', () => {
    expect(inject(withBag.setValue(SESSION_PERMIT_KEY, true)).baggage).toBe(
      `${SESSION_BAGGAGE_KEY}=${SID},agentops.session.root=00f067aa0ba902b7,agentops.session.flags=03,user=Am%C3%A9lie,empty=`,
    );
    expect(inject(withBag.setValue(SESSION_PERMIT_KEY, 'yes')).baggage).toBe('user=Am%C3%A9lie,empty=');
  });

  it('never writes an entry that is not vetted, permit or not (issue 13)', () => {
    expect(inject(unvetted.setValue(SESSION_PERMIT_KEY, true)).baggage).toBe('user=Am%C3%A9lie,empty=');
    expect(inject(unvetted, sessionPropagator({ alwaysInjectSession: true })).baggage).toBe('user=Am%C3%A9lie,empty=');
    sharedState().globalSessionBaggage = true;
    expect(inject(unvetted).baggage).toBe('user=Am%C3%A9lie,empty=');
  });

  it("writes the vetted session's members, never a signature the baggage received (issue 13)", () => {
    const received = propagation.setBaggage(
      withBag,
      bag.setEntry(SESSION_BAGGAGE_KEY, {
        value: SID,
        metadata: baggageEntryMetadataFromString(`root=00f067aa0ba902b7;flags=03;sig=v1.k0.1796537930.${'A'.repeat(43)}`),
      }),
    );
    sharedState().globalSessionBaggage = true;
    const expected = `${SESSION_BAGGAGE_KEY}=${SID},agentops.session.root=00f067aa0ba902b7,agentops.session.flags=03,user=Am%C3%A9lie,empty=`;
    expect(inject(received).baggage).toBe(expected);
    // Nor one received as a member of its own (the current wire form).
    const receivedMember = propagation.setBaggage(
      withBag,
      propagation.getBaggage(withBag)!.setEntry('agentops.session.sig', { value: `v1.k0.1796537930.${'A'.repeat(43)}` }),
    );
    expect(inject(receivedMember).baggage).toBe(expected);
  });

  it('writes it with alwaysInjectSession or the global switch', () => {
    expect(inject(withBag, sessionPropagator({ alwaysInjectSession: true })).baggage).toContain(SESSION_BAGGAGE_KEY);
    sharedState().globalSessionBaggage = true;
    expect(inject(withBag).baggage).toContain(SESSION_BAGGAGE_KEY);
  });

  it('writes no baggage header when nothing is left', () => {
    const onlySession = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ [SESSION_BAGGAGE_KEY]: { value: SID } }));
    expect(inject(onlySession)).toEqual({});
  });

  it('honours INJECT_FIELDS_KEY: tracestate goes with traceparent', () => {
    const ctx = childOf(extract({ traceparent: `00-${T}-${S}-01`, tracestate: 'a=1', baggage: 'b=2' }));
    expect(inject(ctx.setValue(INJECT_FIELDS_KEY, { traceparent: false, baggage: true }))).toEqual({ baggage: 'b=2' });
    expect(inject(ctx.setValue(INJECT_FIELDS_KEY, { traceparent: true, baggage: false }))).toEqual({
      traceparent: `00-${T}-${CHILD}-01`,
      tracestate: 'a=1',
    });
    expect(inject(ctx.setValue(INJECT_FIELDS_KEY, { traceparent: false, baggage: false }))).toEqual({});
  });

  it('keeps the session entry when 64 user entries compete for the limit', () => {
    const entries: Record<string, { value: string }> = { [SESSION_BAGGAGE_KEY]: { value: SID } };
    for (let i = 0; i < 80; i++) entries[`k${i}`] = { value: 'v'.repeat(200) };
    const ctx = contextWithVettedSession(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(entries)), {
      sessionId: SID,
    }).setValue(SESSION_PERMIT_KEY, true);
    const header = inject(ctx).baggage as string;
    expect(Buffer.byteLength(header)).toBeLessThanOrEqual(8192);
    expect(header.startsWith(`${SESSION_BAGGAGE_KEY}=${SID},`)).toBe(true);
  });
});

describe('round trip inject(extract(x))', () => {
  const vetting = sessionPropagator({ vetExtractedSession: true });
  it.each([
    [
      `00-${T}-${S}-01`,
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
      `${SESSION_BAGGAGE_KEY}=${SID},agentops.session.root=${S},userId=Am%C3%A9lie,e=`,
    ],
    [`00-${T}-${S}-00`, 'a@b=1', 'key1=value1;property1;property2,key2=value2'],
    [`00-${T}-${S}-02`, undefined, 'serverNode=DF%2028'],
    [`00-${T}-${S}-03`, undefined, undefined],
  ])('%s / %s / %s', (traceparent, tracestate, baggage) => {
    const carrier: Record<string, string> = { traceparent };
    if (tracestate !== undefined) carrier.tracestate = tracestate;
    if (baggage !== undefined) carrier.baggage = baggage;
    // A process that vets what it extracts (init's vetGlobalExtract) passes the session entry on.
    const ctx = extract(carrier, vetting).setValue(SESSION_PERMIT_KEY, true);
    expect(inject(ctx)).toEqual(carrier);
  });

  // 0.1.0's single member with properties, and the one value OTel Python and Sentry turn it into:
  // read as the same entry, written in the current form.
  it.each([
    `${SESSION_BAGGAGE_KEY}=${SID};root=${S};flags=03,userId=Am%C3%A9lie`,
    `${SESSION_BAGGAGE_KEY}=${SID}%3Broot%3D${S}%3Bflags%3D03,userId=Am%C3%A9lie`,
  ])('0.1.0 form %s goes on in the current form', (baggage) => {
    const ctx = extract({ traceparent: `00-${T}-${S}-01`, baggage }, vetting).setValue(SESSION_PERMIT_KEY, true);
    expect(inject(ctx).baggage).toBe(
      `${SESSION_BAGGAGE_KEY}=${SID},agentops.session.root=${S},agentops.session.flags=03,userId=Am%C3%A9lie`,
    );
  });
});

describe('never throws', () => {
  const throwing: TextMapGetter = {
    get() {
      throw new Error('getter boom');
    },
    keys() {
      throw new Error('keys boom');
    },
  };

  it('on throwing getters, null carriers, missing getters', () => {
    expect(p.extract(ROOT_CONTEXT, {}, throwing)).toBe(ROOT_CONTEXT);
    expect(p.extract(ROOT_CONTEXT, null, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
    expect(p.extract(ROOT_CONTEXT, undefined, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
    expect(p.extract(ROOT_CONTEXT, {}, undefined as unknown as TextMapGetter)).toBe(ROOT_CONTEXT);
    expect(p.extract(undefined as unknown as Context, { traceparent: `00-${T}-${S}-01` }, defaultTextMapGetter)).toBeUndefined();
  });

  it('on throwing setters, null carriers, frozen carriers, odd contexts', () => {
    const ctx = childOf(extract({ traceparent: `00-${T}-${S}-01`, baggage: 'a=1' }));
    const throwingSetter = {
      set() {
        throw new Error('setter boom');
      },
    };
    expect(() => p.inject(ctx, {}, throwingSetter)).not.toThrow();
    expect(() => p.inject(ctx, null, defaultTextMapSetter)).not.toThrow();
    expect(() => p.inject(ctx, Object.freeze({}), defaultTextMapSetter)).not.toThrow();
    expect(() => p.inject(undefined as unknown as Context, {}, defaultTextMapSetter)).not.toThrow();
    const weird = ctx.setValue(INBOUND_FLAGS_KEY, 'nonsense').setValue(INJECT_FIELDS_KEY, 42);
    expect(inject(weird).traceparent).toBe(`00-${T}-${CHILD}-01`);
  });

  it('on foreign baggage and trace state implementations that throw', () => {
    const badState = {
      serialize: () => {
        throw new Error('x');
      },
      get: () => undefined,
      set: () => badState,
      unset: () => badState,
    };
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: T, spanId: S, traceFlags: 1, traceState: badState });
    expect(inject(ctx)).toEqual({ traceparent: `00-${T}-${S}-01` });
    const badBaggage = {
      getAllEntries: () => [
        [
          'a',
          {
            value: 'x',
            metadata: {
              toString: () => {
                throw new Error('y');
              },
            },
          },
        ],
      ],
    };
    const bctx = propagation.setBaggage(ROOT_CONTEXT, badBaggage as never);
    expect(inject(bctx)).toEqual({ baggage: 'a=x' });
  });
});

describe('fields', () => {
  it('lists the W3C fields, plus B3 ones when injecting B3', () => {
    expect(p.fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
    expect(sessionPropagator({ b3Inject: 'single' }).fields()).toEqual(['traceparent', 'tracestate', 'baggage', 'b3']);
  });
});
