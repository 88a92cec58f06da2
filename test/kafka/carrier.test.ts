// Unit tests of the Kafka carrier, the helpers it relies on and the adapter's setup checks: they
// need no broker (the broker-backed behaviour is in the other files of this folder).
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import fc from 'fast-check';
import type { Consumer, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  instrumentConsumer,
  instrumentProducer,
  kafkaHeaderGetter,
  kafkaHeaderSetter,
  withMessageContext,
} from '../../adapters/kafkajs/index.js';
import { mergeBaggageHeaders } from '../../src/carriers/header-merge.js';
import { headersWithContext, type KafkaHeaders } from '../../src/carriers/kafka.js';
import { startInboundHop } from '../../src/hop/inbound.js';
import { sessionPropagator } from '../../src/index.js';
import { runInHop } from '../../src/hop/run.js';
import { useTracing } from '../helpers/otel.js';

const t = useTracing();

const TP = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
const TP2 = `00-${'3'.repeat(32)}-${'4'.repeat(16)}-01`;
const propagator = sessionPropagator();
const extract = (headers: unknown) => propagator.extract(ROOT_CONTEXT, headers, kafkaHeaderGetter);
const extractedTraceId = (headers: unknown) => trace.getSpanContext(extract(headers))?.traceId;

describe('Kafka header getter', () => {
  it('reads Buffer, string and single-element array values', () => {
    expect(extractedTraceId({ traceparent: Buffer.from(TP) })).toBe('1'.repeat(32));
    expect(extractedTraceId({ traceparent: TP })).toBe('1'.repeat(32));
    expect(extractedTraceId({ traceparent: [Buffer.from(TP)] })).toBe('1'.repeat(32));
  });

  it('treats a repeated traceparent as invalid, whether repeated by key or by casing', () => {
    expect(extractedTraceId({ traceparent: [Buffer.from(TP), Buffer.from(TP2)] })).toBeUndefined();
    expect(extractedTraceId({ traceparent: [TP, TP] })).toBeUndefined();
    expect(extractedTraceId({ Traceparent: TP, TRACEPARENT: TP2 })).toBeUndefined();
  });

  it('prefers the exact lowercase name, and reads another casing only when it is absent', () => {
    expect(extractedTraceId({ traceparent: TP, TraceParent: TP2 })).toBe('1'.repeat(32));
    expect(extractedTraceId({ TraceParent: TP2 })).toBe('3'.repeat(32));
  });

  it('combines list-valued fields (baggage, tracestate) across repeated values and casings', () => {
    const ctx = extract({
      traceparent: TP,
      baggage: [Buffer.from('a=1'), Buffer.from('b=2')],
      Baggage: 'c=3',
      tracestate: [Buffer.from('x=1'), 'y=2'],
    });
    const bag = propagation.getBaggage(ctx)!;
    expect(bag.getEntry('a')?.value).toBe('1');
    expect(bag.getEntry('b')?.value).toBe('2');
    expect(bag.getEntry('c')).toBeUndefined(); // the exact name wins over other casings
    expect(trace.getSpanContext(ctx)?.traceState?.serialize()).toBe('x=1,y=2');
    const mixed = propagation.getBaggage(extract({ Baggage: 'a=1', BAGGAGE: Buffer.from('b=2') }))!;
    expect([mixed.getEntry('a')?.value, mixed.getEntry('b')?.value]).toEqual(['1', '2']);
  });

  it('ignores null, undefined and non-header values at runtime, and inherited properties', () => {
    expect(kafkaHeaderGetter.get({ traceparent: null } as KafkaHeaders, 'traceparent')).toBeUndefined();
    // Two header entries under one key are a repeated traceparent, even when one value is null.
    expect(extractedTraceId({ traceparent: [null, TP] })).toBeUndefined();
    expect(extractedTraceId(null)).toBeUndefined();
    expect(extractedTraceId(undefined)).toBeUndefined();
    expect(extractedTraceId({ traceparent: 42 })).toBeUndefined();
    expect(extractedTraceId(Object.create({ traceparent: TP }))).toBeUndefined();
    expect(kafkaHeaderGetter.keys({ a: 'x', b: Buffer.from('y') })).toEqual(['a', 'b']);
    expect(kafkaHeaderGetter.keys(null)).toEqual([]);
  });

  it('never throws, whatever the headers hold (property)', () => {
    const value = fc.oneof(
      fc.string(),
      fc.uint8Array().map((b) => Buffer.from(b)),
      fc.constant(null),
      fc.integer(),
      fc.array(fc.oneof(fc.string(), fc.constant(null))),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('traceparent', 'Traceparent', 'tracestate', 'baggage', 'BAGGAGE', 'b3', 'x'), value),
        (headers) => {
          extract(headers);
        },
      ),
    );
  });

  it('the setter writes the lowercase W3C name into the record it is given', () => {
    const carrier: KafkaHeaders = {};
    kafkaHeaderSetter.set(carrier, 'traceparent', TP);
    expect(carrier).toEqual({ traceparent: TP });
  });
});

describe('headersWithContext', () => {
  const ours = { traceparent: TP2, tracestate: 'us=1', baggage: 'agentops.session.id=' + '3'.repeat(32) };

  it('returns a new record and leaves the frozen input alone', () => {
    const input = Object.freeze({ 'x-a': 'a', 'x-b': Buffer.from('b') });
    const out = headersWithContext(input, ours, { overrideTraceparent: false });
    expect(out).not.toBe(input);
    expect(Object.keys(input)).toEqual(['x-a', 'x-b']);
    expect(out).toEqual({ 'x-a': 'a', 'x-b': Buffer.from('b'), ...ours });
    expect(headersWithContext(undefined, ours, { overrideTraceparent: false })).toEqual(ours);
  });

  it('keeps a traceparent the caller set (any casing) with its tracestate, unless overriding; baggage is merged either way', () => {
    const input = { TraceParent: TP, tracestate: 'them=1', baggage: 'tenant=acme' };
    // 0.2.0: one header-merge rule for HTTP and Kafka (CHANGELOG): our session entry joins their baggage.
    expect(headersWithContext(input, ours, { overrideTraceparent: false })).toEqual({ ...input, baggage: `${ours.baggage},tenant=acme` });
    const overridden = headersWithContext(input, ours, { overrideTraceparent: true });
    expect(overridden).toEqual({ traceparent: TP2, tracestate: 'us=1', baggage: `${ours.baggage},tenant=acme` });
  });

  it("merges our baggage into the caller's: theirs wins a shared key, except the session entry, which is ours", () => {
    const theirs = { baggage: [Buffer.from('tenant=acme'), 'agentops.session.id=' + '5'.repeat(32)] };
    expect(headersWithContext(theirs, ours, { overrideTraceparent: false }).baggage).toBe(`${ours.baggage},tenant=acme`);
    expect(headersWithContext(theirs, ours, { overrideTraceparent: true }).baggage).toBe(`${ours.baggage},tenant=acme`);
  });

  it('writes nothing it was not given', () => {
    expect(headersWithContext({ a: 'b' }, {}, { overrideTraceparent: true })).toEqual({ a: 'b' });
  });
});

describe('mergeBaggageHeaders', () => {
  it('keeps the preferred members, adds the others, drops malformed ones', () => {
    expect(mergeBaggageHeaders('a=1,b=2', 'b=9,c=3')).toBe('a=1,b=2,c=3');
    expect(mergeBaggageHeaders('bad member,a=1', 'c=3')).toBe('a=1,c=3');
    expect(mergeBaggageHeaders('', '')).toBe('');
  });

  it('honours the size limit of the result', () => {
    const big = Array.from({ length: 50 }, (_, i) => `k${i}=${'v'.repeat(200)}`).join(',');
    expect(mergeBaggageHeaders(big, big.replaceAll('k', 'j')).length).toBeLessThanOrEqual(8192);
  });
});

describe('runInHop', () => {
  const hop = () => startInboundHop({ carrier: {}, getter: kafkaHeaderGetter, spanName: 'h', trust: 'trust', signing: null });

  it('returns a plain value synchronously and ends the span at once', () => {
    const h = hop();
    expect(runInHop(h, () => trace.getSpan(context.active()))).toBe(h.span);
    expect(t.one('h').status.code).toBe(SpanStatusCode.UNSET);
  });

  it('settles with the promise value or error, after ending the span', async () => {
    await expect(runInHop(hop(), async () => 'v')).resolves.toBe('v');
    const boom = new Error('x');
    await expect(runInHop(hop(), () => Promise.reject(boom))).rejects.toBe(boom);
    expect(
      t
        .byName('h')
        .map((s) => s.status.code)
        .sort(),
    ).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR]);
  });

  it('rethrows a synchronous error unchanged', () => {
    const boom = new TypeError('sync');
    expect(() =>
      runInHop(hop(), () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(t.one('h').status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('setup checks', () => {
  // Shapes with the methods the wrappers look for; these tests only exercise configuration.
  const producerLike = () => ({ send: async () => [], sendBatch: async () => [], transaction: async () => ({}) }) as unknown as Producer;
  const consumerLike = () => ({ run: async () => {} }) as unknown as Consumer;

  it('rejects what is not a producer or consumer with a TypeError', () => {
    expect(() => instrumentProducer({} as Producer)).toThrow(TypeError);
    expect(() => instrumentProducer(null as unknown as Producer)).toThrow(TypeError);
    expect(() => instrumentConsumer({} as Consumer)).toThrow(TypeError);
  });

  it('rejects bad options with a TypeError naming them', () => {
    expect(() => instrumentProducer(producerLike(), { signingKey: 'short' })).toThrow(/at least 16 bytes/);
    expect(() => instrumentProducer(producerLike(), { spanPerMessage: 'yes' as never })).toThrow(/spanPerMessage/);
    expect(() => instrumentProducer(producerLike(), 'x' as never)).toThrow(/options must be an object/);
    expect(() => instrumentConsumer(consumerLike(), { trust: 'maybe' as never })).toThrow(/trust/);
    expect(() => instrumentConsumer(consumerLike(), { topics: { t1: { shape: 'sideways' as never } } })).toThrow(/topics\["t1"\]\.shape/);
    expect(() => instrumentConsumer(consumerLike(), { maxBatchLinks: -1 })).toThrow(/maxBatchLinks/);
    expect(() => instrumentConsumer(consumerLike(), { groupId: 7 as never })).toThrow(/groupId/);
    expect(() => instrumentConsumer(consumerLike(), { topics: { t1: { signingKey: { keys: {}, activeKeyId: 'k' } } } })).toThrow(TypeError);
  });

  it('rejects a misspelled option name, suggesting the one meant', () => {
    expect(() => instrumentConsumer(consumerLike(), { trsut: 'link' } as never)).toThrow(
      /instrumentConsumer options has no option "trsut" \(did you mean "trust"\?\)/,
    );
    expect(() => instrumentConsumer(consumerLike(), { topics: { t1: { batchshape: 'parent' } } } as never)).toThrow(
      /topics\["t1"\] has no option "batchshape" \(did you mean "batchShape"\?\)/,
    );
    expect(() => instrumentProducer(producerLike(), { overrideTraceParent: true } as never)).toThrow(/did you mean "overrideTraceparent"/);
    expect(() => instrumentProducer(producerLike(), { zzz: 1 } as never)).toThrow(
      /has no option "zzz"; known: signingKey, overrideTraceparent, spanPerMessage/,
    );
  });

  it('refuses a frozen producer (a Proxy cannot replace its methods) with a TypeError at setup', () => {
    expect(() => instrumentProducer(Object.freeze(producerLike()))).toThrow(/frozen/);
  });

  it('instrumenting twice returns the same object', () => {
    const consumer = instrumentConsumer(consumerLike());
    expect(instrumentConsumer(consumer as unknown as Consumer)).toBe(consumer);
  });

  it('withMessageContext needs a function', () => {
    expect(() => withMessageContext({} as never, undefined as never)).toThrow(TypeError);
  });
});
