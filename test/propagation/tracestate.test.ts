import { describe, expect, it } from 'vitest';
import {
  isValidTracestateKey,
  isValidTracestateValue,
  parseTracestate,
  sanitizeTracestate,
  TraceState,
} from '../../src/propagation/tracestate.js';
import { sharedState } from '../../src/base/state.js';

function entries(header: string): Array<[string, string]> | undefined {
  return parseTracestate(header)?.entries();
}

// The tracestate headers used in the W3C Trace Context spec text.
describe('tracestate: W3C spec examples', () => {
  it.each([
    ['congo=t61rcWkgMzE', [['congo', 't61rcWkgMzE']]],
    ['rojo=00f067aa0ba902b7', [['rojo', '00f067aa0ba902b7']]],
    [
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
      [
        ['rojo', '00f067aa0ba902b7'],
        ['congo', 't61rcWkgMzE'],
      ],
    ],
    [
      'congo=ucfJifl5GOE,rojo=00f067aa0ba902b7',
      [
        ['congo', 'ucfJifl5GOE'],
        ['rojo', '00f067aa0ba902b7'],
      ],
    ],
    [
      'vendorname1=opaqueValue1,vendorname2=opaqueValue2',
      [
        ['vendorname1', 'opaqueValue1'],
        ['vendorname2', 'opaqueValue2'],
      ],
    ],
  ])('%s', (header, expected) => {
    expect(entries(header)).toEqual(expected);
    expect(parseTracestate(header)?.serialize()).toBe(header);
  });
});

const ALL_KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
const ALL_VALUE_CHARS = (() => {
  let s = '';
  for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) s += String.fromCharCode(c);
  return s;
})();

// The tracestate cases of the W3C test harness, strict mode (test/test.py after the 2026 key-grammar fix).
describe('tracestate: W3C test harness cases (strict)', () => {
  it.each<[string, string, Array<[string, string]> | undefined]>([
    [
      'two members',
      'foo=1,bar=2',
      [
        ['foo', '1'],
        ['bar', '2'],
      ],
    ],
    [
      'OWS around commas',
      'foo=1 \t , \t bar=2, \t baz=3',
      [
        ['foo', '1'],
        ['bar', '2'],
        ['baz', '3'],
      ],
    ],
    [
      'tabs around commas',
      'foo=1\t \t,\t \tbar=2,\t \tbaz=3',
      [
        ['foo', '1'],
        ['bar', '2'],
        ['baz', '3'],
      ],
    ],
    ['leading space', ' foo=1', [['foo', '1']]],
    ['leading tab', '\tfoo=1', [['foo', '1']]],
    ['trailing space', 'foo=1 ', [['foo', '1']]],
    ['trailing tab', 'foo=1\t', [['foo', '1']]],
    ['OWS both ends', '\t foo=1 \t', [['foo', '1']]],
    ['empty header', '', undefined],
    ['empty header combined after a member', 'foo=1,', [['foo', '1']]],
    ['empty header combined before a member', ',foo=1', [['foo', '1']]],
    [
      'three headers combined in order',
      'foo=1,bar=2,rojo=1,congo=2,baz=3',
      [
        ['foo', '1'],
        ['bar', '2'],
        ['rojo', '1'],
        ['congo', '2'],
        ['baz', '3'],
      ],
    ],
    ['key with a space before =', 'foo =1', undefined],
    ['uppercase key', 'FOO=1', undefined],
    ['key with a dot', 'foo.bar=1', undefined],
    [
      'key ending in @ is a valid key now',
      'foo@=1,bar=2',
      [
        ['foo@', '1'],
        ['bar', '2'],
      ],
    ],
    ['key starting with @ discards all', '@foo=1,bar=2', undefined],
    [
      'key with @@',
      'foo@@bar=1,bar=2',
      [
        ['foo@@bar', '1'],
        ['bar', '2'],
      ],
    ],
    [
      'key with two @',
      'foo@bar@baz=1,bar=2',
      [
        ['foo@bar@baz', '1'],
        ['bar', '2'],
      ],
    ],
    ['value with =', 'foo=bar=baz', undefined],
    ['empty value discards all', 'foo=,bar=3', undefined],
    ['duplicate keys, same value', 'foo=1,foo=1', [['foo', '1']]],
    ['duplicate keys, different values: first kept', 'foo=1,foo=2', [['foo', '1']]],
  ])('%s', (_name, header, expected) => {
    expect(entries(header)).toEqual(expected);
  });

  it('32 members are inherited, 33 discard the whole tracestate', () => {
    const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${String(i + 1).padStart(2, '0')}`);
    const ts32 = parseTracestate(members.slice(0, 32).join(','));
    expect(ts32?.size).toBe(32);
    expect(ts32?.get('bar01')).toBe('01');
    expect(parseTracestate(members.join(','))).toBeUndefined();
  });

  it('key of 256 characters is kept, 257 discards all', () => {
    const k256 = 'z'.repeat(256);
    expect(entries(`foo=1,${k256}=1`)).toEqual([
      ['foo', '1'],
      [k256, '1'],
    ]);
    expect(parseTracestate(`foo=1,${'z'.repeat(257)}=1`)).toBeUndefined();
  });

  it.each(['t'.repeat(241) + '@' + 'v'.repeat(14), 't'.repeat(242) + '@v', 't@' + 'v'.repeat(15)])(
    '@ is an ordinary key character: %s',
    (key) => {
      expect(entries(`foo=1,${key}=1`)).toEqual([
        ['foo', '1'],
        [key, '1'],
      ]);
    },
  );

  it('all allowed characters, with and without an @', () => {
    for (const key of [ALL_KEY_CHARS, `${ALL_KEY_CHARS}@a-z0-9_-*/`]) {
      const ts = parseTracestate(`${key}=${ALL_VALUE_CHARS}`);
      // The value starts with a space: leading spaces are part of the value.
      expect(ts?.get(key)).toBe(ALL_VALUE_CHARS);
    }
  });
});

describe('tracestate: rules', () => {
  it('keys may start with a digit', () => {
    expect(entries('1special=x')).toEqual([['1special', 'x']]);
    expect(isValidTracestateKey('0')).toBe(true);
  });

  it('values: up to 256 characters, leading spaces kept, trailing OWS not part of the value', () => {
    expect(entries(`a=${'v'.repeat(256)}`)?.[0]?.[1]).toHaveLength(256);
    expect(parseTracestate(`a=${'v'.repeat(257)}`)).toBeUndefined();
    expect(entries('a=  x  ')).toEqual([['a', '  x']]);
    expect(parseTracestate('a=   ')).toBeUndefined();
    expect(parseTracestate('a=x\ty')).toBeUndefined();
    expect(parseTracestate('a=\u00e9')).toBeUndefined();
  });

  it('whitespace-only members are skipped and do not count towards 32', () => {
    const members = Array.from({ length: 32 }, (_, i) => `k${i}=v`);
    expect(parseTracestate(`${members.join(', ,')},  ,\t,`)?.size).toBe(32);
  });

  it('any invalid member discards the whole header', () => {
    expect(parseTracestate('a=1,b=2,C=3')).toBeUndefined();
    expect(parseTracestate('a=1,novalue,b=2')).toBeUndefined();
    expect(parseTracestate('a=1,=2')).toBeUndefined();
  });

  it('a valid header over 512 characters is shortened by whole entries, long (>128) ones first', () => {
    const long = `long=${'x'.repeat(200)}`;
    const small = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}=${'y'.repeat(12)}`);
    const header = [small[0], long, ...small.slice(1)].join(',');
    expect(header.length).toBeGreaterThan(512);
    const ts = parseTracestate(header) as TraceState;
    expect(ts.get('long')).toBeUndefined();
    expect(ts.size).toBe(20);
    expect(ts.serialize().length).toBeLessThanOrEqual(512);

    const many = Array.from({ length: 32 }, (_, i) => `key${String(i).padStart(2, '0')}=${'z'.repeat(20)}`).join(',');
    const cut = parseTracestate(many) as TraceState;
    expect(cut.serialize().length).toBeLessThanOrEqual(512);
    // Removed from the end: the left-most entries survive, in order.
    expect(cut.entries()[0]?.[0]).toBe('key00');
    expect(many.startsWith(cut.serialize())).toBe(true);
  });

  it('maxTracestateLength can be raised; a header past the scan cap is discarded and counted', () => {
    const many = Array.from({ length: 32 }, (_, i) => `key${i}=${'z'.repeat(40)}`).join(',');
    expect(parseTracestate(many, { maxTracestateLength: 4096 })?.size).toBe(32);
    const counters = sharedState().counters;
    const before = counters.tracestateDiscarded;
    const examined = counters.tracestateBytesExamined;
    expect(parseTracestate(`a=1${' '.repeat(40_000)}`)).toBeUndefined();
    expect(counters.tracestateDiscarded).toBe(before + 1);
    expect(counters.tracestateBytesExamined).toBe(examined);
  });
});

describe('TraceState class', () => {
  const base = parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE') as TraceState;

  it('is immutable and set moves the key to the front', () => {
    const next = base.set('congo', 'ucfJifl5GOE');
    expect(next.serialize()).toBe('congo=ucfJifl5GOE,rojo=00f067aa0ba902b7');
    expect(base.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    expect(base.set('new', 'v').serialize()).toBe('new=v,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  });

  it('get / unset', () => {
    expect(base.get('rojo')).toBe('00f067aa0ba902b7');
    expect(base.get('nope')).toBeUndefined();
    expect(base.unset('rojo').serialize()).toBe('congo=t61rcWkgMzE');
    expect(base.unset('nope')).toBe(base);
  });

  it('set with an invalid key or value is a no-op', () => {
    expect(base.set('BAD', 'v')).toBe(base);
    expect(base.set('@x', 'v')).toBe(base);
    expect(base.set('ok', 'a,b')).toBe(base);
    expect(base.set('ok', '')).toBe(base);
    expect(base.set('ok', 'trailing ')).toBe(base);
  });

  it('set past 32 members drops the right-most', () => {
    let ts = TraceState.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'] as const));
    expect(ts.size).toBe(32);
    ts = ts.set('new', 'v');
    expect(ts.size).toBe(32);
    expect(ts.get('new')).toBe('v');
    expect(ts.get('k31')).toBeUndefined();
    expect(ts.get('k0')).toBe('v');
  });

  it('fromEntries skips invalid and repeated pairs', () => {
    const ts = TraceState.fromEntries([
      ['a', '1'],
      ['B', '2'],
      ['a', '3'],
      ['c@d', '4'],
    ]);
    expect(ts.serialize()).toBe('a=1,c@d=4');
  });

  it('validators', () => {
    expect(isValidTracestateKey('a'.repeat(256))).toBe(true);
    expect(isValidTracestateKey('a'.repeat(257))).toBe(false);
    expect(isValidTracestateKey('special.vendor')).toBe(false);
    expect(isValidTracestateValue(' x')).toBe(true);
    expect(isValidTracestateValue('x ')).toBe(false);
  });

  it('sanitizeTracestate re-validates foreign serializations', () => {
    expect(sanitizeTracestate('a=1,b=2', 512)).toBe('a=1,b=2');
    expect(sanitizeTracestate('a=1,B=2', 512)).toBeUndefined();
    expect(sanitizeTracestate('', 512)).toBeUndefined();
  });
});
