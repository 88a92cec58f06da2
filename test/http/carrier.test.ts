import { defaultTextMapGetter } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { copyHeaders, httpHeaderGetter, httpHeaderSetter, incomingHeaderGetter } from '../../src/carriers/http.js';
import { mergeContextFields, mergeSessionBaggage } from '../../src/carriers/header-merge.js';
import { readHeaderValue } from '../../src/propagation/carrier-values.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TP2 = '00-11111111111111111111111111111111-2222222222222222-01';
const SID = 'a'.repeat(32);
const SID2 = 'b'.repeat(32);

describe('httpHeaderGetter', () => {
  it('reads Node IncomingHttpHeaders, repeated headers as arrays', () => {
    const headers = { traceparent: TP, baggage: ['a=1', 'b=2'] };
    expect(httpHeaderGetter.get(headers, 'traceparent')).toBe(TP);
    expect(readHeaderValue(httpHeaderGetter.get(headers, 'baggage'), 'list')).toBe('a=1,b=2');
  });

  it('reads any case; several spellings are one repeated header', () => {
    expect(httpHeaderGetter.get({ TraceParent: TP }, 'traceparent')).toBe(TP);
    const twice = httpHeaderGetter.get({ traceparent: TP, TRACEPARENT: TP2 }, 'traceparent');
    expect(twice).toEqual([TP, TP2]);
    // A repeated traceparent is not a traceparent.
    expect(readHeaderValue(twice, 'single')).toBeUndefined();
  });

  it('reads Fetch Headers and tuples (and Node raw header lists)', () => {
    const headers = new Headers([
      ['TraceParent', TP],
      ['baggage', 'a=1'],
      ['Baggage', 'b=2'],
    ]);
    expect(httpHeaderGetter.get(headers, 'traceparent')).toBe(TP);
    expect(httpHeaderGetter.get(headers, 'baggage')).toBe('a=1, b=2');
    expect(httpHeaderGetter.get([['Traceparent', TP]], 'traceparent')).toBe(TP);
    expect(
      httpHeaderGetter.get(
        [
          ['baggage', 'a=1'],
          ['BAGGAGE', 'b=2'],
        ],
        'baggage',
      ),
    ).toEqual(['a=1', 'b=2']);
    expect(httpHeaderGetter.get(['Host', 'x', 'traceparent', TP], 'traceparent')).toBe(TP);
    expect(httpHeaderGetter.keys(new Headers({ A: '1' }))).toEqual(['a']);
  });

  it('never throws, whatever the carrier', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no');
        },
      },
    );
    for (const carrier of [undefined, null, 42, 'traceparent', hostile, [null], [[1, 2]]]) {
      expect(() => httpHeaderGetter.get(carrier, 'traceparent')).not.toThrow();
      expect(() => httpHeaderGetter.keys(carrier)).not.toThrow();
    }
  });

  it('incomingHeaderGetter reads own lowercase properties only', () => {
    const headers = Object.create({ traceparent: TP }) as Record<string, string>;
    expect(incomingHeaderGetter.get(headers, 'traceparent')).toBeUndefined();
    expect(incomingHeaderGetter.get({ traceparent: TP }, 'traceparent')).toBe(TP);
    expect(defaultTextMapGetter.get({ traceparent: TP }, 'traceparent')).toBe(TP);
  });
});

describe('httpHeaderSetter and copyHeaders', () => {
  it('the setter replaces any spelling of the name', () => {
    const record: Record<string, string> = { TraceParent: TP2, other: 'x' };
    httpHeaderSetter.set(record, 'traceparent', TP);
    expect(record).toEqual({ traceparent: TP, other: 'x' });
    const headers = new Headers({ traceparent: TP2 });
    httpHeaderSetter.set(headers, 'traceparent', TP);
    expect(headers.get('traceparent')).toBe(TP);
  });

  it('copies every shape into a new plain object without touching the input', () => {
    const frozen = Object.freeze({
      'Content-Type': 'text/plain',
      'x-n': 5,
      'x-list': Object.freeze(['a', 'b']),
      'x-undef': undefined,
      'x-null': null,
    });
    const copy = copyHeaders(frozen as never);
    expect(copy).toEqual({ 'Content-Type': 'text/plain', 'x-n': '5', 'x-list': 'a, b' });
    expect(copy).not.toBe(frozen);
    expect(copyHeaders(new Headers({ A: '1' }))).toEqual({ a: '1' });
    expect(
      copyHeaders([
        ['A', '1'],
        ['a', '2'],
      ]),
    ).toEqual({ A: '1, 2' });
    expect(copyHeaders(new Map([['k', 'v']]) as never)).toEqual({ k: 'v' });
    expect(copyHeaders(undefined)).toEqual({});
    expect(copyHeaders(7 as never)).toEqual({});
  });
});

describe('merging our fields into existing headers', () => {
  it('baggage: their entries kept and winning, ours added, the session entry ours', () => {
    const merged = mergeSessionBaggage(
      `user=1,shared=theirs,agentops.session.id=${SID2}`,
      `agentops.session.id=${SID};root=1234567890abcdef,shared=ours,extra=2`,
    );
    const members = merged.split(',');
    expect(members).toContain(`agentops.session.id=${SID};root=1234567890abcdef`);
    expect(members).toContain('user=1');
    expect(members).toContain('shared=theirs');
    expect(members).toContain('extra=2');
    expect(merged).not.toContain(SID2);
  });

  it('baggage: their session entry stays when we have none', () => {
    expect(mergeSessionBaggage(`agentops.session.id=${SID2}`, 'x=1')).toContain(SID2);
  });

  it('traceparent: theirs kept (with its tracestate) unless overrideTraceparent', () => {
    const record = { TraceParent: TP2, tracestate: 'them=1' };
    mergeContextFields(record, { traceparent: TP, tracestate: 'us=1' });
    expect(record).toEqual({ TraceParent: TP2, tracestate: 'them=1' });
    mergeContextFields(record, { traceparent: TP }, { overrideTraceparent: true });
    expect(record).toEqual({ traceparent: TP });
  });

  it('writes baggage under the existing spelling', () => {
    const record: Record<string, string> = { Baggage: 'a=1' };
    mergeContextFields(record, { baggage: `agentops.session.id=${SID}` });
    expect(Object.keys(record)).toEqual(['Baggage']);
    expect(record.Baggage).toContain(SID);
    expect(record.Baggage).toContain('a=1');
  });
});
