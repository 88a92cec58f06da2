import { describe, expect, it } from 'vitest';
import { decodeBaggageValue, encodeBaggageValue, normalizeProperties } from '../../src/propagation/baggage-encoding.js';
import {
  isBaggageKey,
  parseBaggage as parseCodec,
  serializeBaggage as serializeCodec,
  type BaggageItem,
} from '../../src/propagation/baggage.js';
import { SESSION_BAGGAGE_KEY, SESSION_MEMBER } from '../../src/session/entry.js';

// The codec applied as the session propagator applies it: the session entry is its reserved member.
const parseBaggage = (header: string | readonly string[], limits?: Parameters<typeof parseCodec>[1]) =>
  parseCodec(header, limits, SESSION_MEMBER);
const serializeBaggage = (items: Iterable<BaggageItem>, limits?: Parameters<typeof serializeCodec>[1]) =>
  serializeCodec(items, limits, SESSION_MEMBER);
import { sharedState } from '../../src/base/state.js';

const SID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID2 = '0af7651916cd43dd8448eb211c80319c';

function parse(header: string | string[], limits?: Parameters<typeof parseBaggage>[1]): BaggageItem[] {
  return parseBaggage(header, limits).entries;
}

// Every example of the W3C Baggage spec ("HTTP Header Format"), as a table.
describe('baggage: W3C spec examples', () => {
  it.each<[string, string | string[], BaggageItem[]]>([
    [
      'properties and OWS (the 3-member example)',
      'key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue',
      [
        { key: 'key1', value: 'value1', metadata: 'property1;property2' },
        { key: 'key2', value: 'value2' },
        { key: 'key3', value: 'value3', metadata: 'propertyKey=propertyValue' },
      ],
    ],
    [
      'single header',
      'userId=alice,serverNode=DF%2028,isProduction=false',
      [
        { key: 'userId', value: 'alice' },
        { key: 'serverNode', value: 'DF 28' },
        { key: 'isProduction', value: 'false' },
      ],
    ],
    [
      'percent-encoded UTF-8',
      'userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false',
      [
        { key: 'userId', value: 'Amélie' },
        { key: 'serverNode', value: 'DF 28' },
        { key: 'isProduction', value: 'false' },
      ],
    ],
    [
      'split into multiple headers',
      ['userId=alice', 'serverNode=DF%2028,isProduction=false'],
      [
        { key: 'userId', value: 'alice' },
        { key: 'serverNode', value: 'DF 28' },
        { key: 'isProduction', value: 'false' },
      ],
    ],
    [
      'names and values with surrounding spaces',
      ['userId =   alice', 'serverNode = DF%2028, isProduction = false'],
      [
        { key: 'userId', value: 'alice' },
        { key: 'serverNode', value: 'DF 28' },
        { key: 'isProduction', value: 'false' },
      ],
    ],
    ['serverNode', 'serverNode=DF%2028', [{ key: 'serverNode', value: 'DF 28' }]],
    ['userId', 'userId=alice', [{ key: 'userId', value: 'alice' }]],
    ['isProduction', 'isProduction=false', [{ key: 'isProduction', value: 'false' }]],
  ])('%s', (_name, header, expected) => {
    expect(parse(header)).toEqual(expected);
  });

  it('the 3-member example is 86 bytes and re-serializes without OWS', () => {
    const header = 'key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue';
    expect(Buffer.byteLength(header)).toBe(86);
    expect(serializeBaggage(parse(header))).toBe('key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue');
  });

  it('serializes the Amélie example as the spec shows it', () => {
    expect(
      serializeBaggage([
        { key: 'userId', value: 'Amélie' },
        { key: 'serverNode', value: 'DF 28' },
        { key: 'isProduction', value: 'false' },
      ]),
    ).toBe('userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false');
  });
});

// The cases of the W3C baggage reference implementation's tests (w3c/baggage test/test_baggage.py).
describe('baggage: W3C reference test cases', () => {
  it.each<[string, string, BaggageItem[]]>([
    ['simple', 'SomeKey=SomeValue', [{ key: 'SomeKey', value: 'SomeValue' }]],
    [
      'multiple with properties',
      'SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal',
      [
        { key: 'SomeKey', value: 'SomeValue', metadata: 'SomeProp' },
        { key: 'SomeKey2', value: 'SomeValue2', metadata: 'ValueProp=PropVal' },
      ],
    ],
    [
      'OWS everywhere',
      'SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal',
      [
        { key: 'SomeKey', value: 'SomeValue', metadata: 'SomeProp' },
        { key: 'SomeKey2', value: 'SomeValue2', metadata: 'ValueProp=PropVal' },
      ],
    ],
    ['value with equals signs', 'SomeKey=SomeValue=equals', [{ key: 'SomeKey', value: 'SomeValue=equals' }]],
    [
      'percent-encoded value',
      'SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29',
      [{ key: 'SomeKey', value: '\t "\';=asdf!@#$%^&*()' }],
    ],
    [
      'percent-encoded value with OWS',
      'SomeKey \t = \t %09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29 \t ',
      [{ key: 'SomeKey', value: '\t "\';=asdf!@#$%^&*()' }],
    ],
    [
      'repeated property names',
      'SomeKey=SomeValue;SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue',
      [{ key: 'SomeKey', value: 'SomeValue', metadata: 'SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue' }],
    ],
    [
      'encoded "=" in a property is one key-only property, not decoded',
      'SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal',
      [{ key: 'SomeKey', value: 'SomeValue', metadata: 'ValueProp%20%09%20%3D%20%09%20PropVal' }],
    ],
  ])('%s', (_name, header, expected) => {
    expect(parse(header)).toEqual(expected);
  });

  it('encodes only what must be encoded; both encodings decode to the same value', () => {
    const value = '\t "\';=asdf!@#$%^&*()';
    const ours = serializeBaggage([{ key: 'SomeKey', value }]);
    expect(ours).toBe("SomeKey=%09%20%22'%3B=asdf!@#$%25^&*()");
    expect(parse(ours)).toEqual([{ key: 'SomeKey', value }]);
    expect(parse('SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29')).toEqual([{ key: 'SomeKey', value }]);
  });
});

describe('baggage: parsing rules', () => {
  it('keeps empty values', () => {
    expect(parse('a=,b=2, c = ')).toEqual([
      { key: 'a', value: '' },
      { key: 'b', value: '2' },
      { key: 'c', value: '' },
    ]);
  });

  it('decodes invalid UTF-8 to U+FFFD instead of dropping the member', () => {
    expect(parse('a=%FF,b=x%C3%28y,c=%E2%82,d=%ED%A0%80')).toEqual([
      { key: 'a', value: '\uFFFD' },
      { key: 'b', value: 'x\uFFFD(y' },
      { key: 'c', value: '\uFFFD' },
      { key: 'd', value: '\uFFFD\uFFFD\uFFFD' },
    ]);
  });

  it('keeps a BOM and literal % that is not an escape', () => {
    expect(parse('a=%EF%BB%BFx,b=100%,c=%zz,d=%4')).toEqual([
      { key: 'a', value: '\uFEFFx' },
      { key: 'b', value: '100%' },
      { key: 'c', value: '%zz' },
      { key: 'd', value: '%4' },
    ]);
  });

  it('drops a malformed member alone', () => {
    const r = parseBaggage('good=1,bad value=2,no-equals,=v,k=v w,k2="q",ok=2,k3=v;,k4=v;;p,k5=v;p=a b,fine=3');
    expect(r.entries.map((e) => e.key)).toEqual(['good', 'ok', 'fine']);
    expect(r.dropped).toBe(8);
  });

  it('drops members with non-ASCII, control characters or backslash', () => {
    expect(parse('a=é,b=x\u0001,c=a\\b,d=ok').map((e) => e.key)).toEqual(['d']);
  });

  it('skips empty members without counting them as dropped', () => {
    const r = parseBaggage(' , a=1 ,, ,\t,b=2,');
    expect(r.entries.map((e) => e.key)).toEqual(['a', 'b']);
    expect(r.dropped).toBe(0);
  });

  it('keeps the first of repeated keys', () => {
    expect(parse('a=1,b=2,a=3')).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
  });

  it('keeps keys verbatim, including ones that look like Object.prototype members', () => {
    expect(parse('__proto__=x,constructor=y,k%20=z').map((e) => e.key)).toEqual(['__proto__', 'constructor', 'k%20']);
  });

  it('combines several headers as one list (limits apply to the combination)', () => {
    const headers = Array.from({ length: 70 }, (_, i) => `k${i}=v`);
    expect(parse(headers)).toHaveLength(64);
  });
});

describe('baggage: session entry', () => {
  it('keeps a valid session entry with its properties', () => {
    expect(parse(`${SESSION_BAGGAGE_KEY}=${SID};root=00f067aa0ba902b7;flags=01,a=1`)).toEqual([
      { key: SESSION_BAGGAGE_KEY, value: SID, metadata: 'root=00f067aa0ba902b7;flags=01' },
      { key: 'a', value: '1' },
    ]);
  });

  it.each([SID.toUpperCase(), '0'.repeat(32), SID.slice(1), `${SID}0`, 'not-a-session', ''])(
    'drops a session entry whose value is not a session id: %s',
    (value) => {
      const r = parseBaggage(`a=1,${SESSION_BAGGAGE_KEY}=${value},b=2`);
      expect(r.entries.map((e) => e.key)).toEqual(['a', 'b']);
      expect(r.dropped).toBe(1);
    },
  );

  it('two session entries with different values: both dropped', () => {
    const r = parseBaggage(`${SESSION_BAGGAGE_KEY}=${SID},a=1,${SESSION_BAGGAGE_KEY}=${SID2}`);
    expect(r.entries).toEqual([{ key: 'a', value: '1' }]);
    expect(r.dropped).toBe(2);
  });

  it('two session entries with equal values: one kept', () => {
    const r = parseBaggage(`${SESSION_BAGGAGE_KEY}=${SID},a=1, ${SESSION_BAGGAGE_KEY} = ${SID}`);
    expect(r.entries).toEqual([
      { key: SESSION_BAGGAGE_KEY, value: SID },
      { key: 'a', value: '1' },
    ]);
  });

  it('a valid session entry next to an invalid one is ambiguous: all dropped', () => {
    const r = parseBaggage(`${SESSION_BAGGAGE_KEY}=${SID},${SESSION_BAGGAGE_KEY}=forged`);
    expect(r.entries).toEqual([]);
  });
});

describe('baggage: limits', () => {
  const member = (i: number, valueLength: number): string => `k${String(i).padStart(2, '0')}=${'v'.repeat(valueLength)}`;

  it('a header of exactly 64 members and 8192 bytes passes whole', () => {
    // 64 members of 127 bytes + 63 commas = 8191; make the last one a byte longer.
    const members = Array.from({ length: 64 }, (_, i) => member(i, 123));
    members[63] = member(63, 124);
    const header = members.join(',');
    expect(header.length).toBe(8192);
    const r = parseBaggage(header);
    expect(r.entries).toHaveLength(64);
    expect(r.dropped).toBe(0);
    expect(serializeBaggage(r.entries)).toBe(header);
  });

  it('one member of 8190 bytes of value passes (no 4096 per-member cap)', () => {
    const header = `a=${'0123456789'.repeat(819)}`;
    expect(header.length).toBe(8192);
    expect(parse(header)[0]?.value).toHaveLength(8190);
  });

  it('65 members: whole entries dropped, the session entry kept', () => {
    const members = Array.from({ length: 65 }, (_, i) => member(i, 3));
    const header = [...members, `${SESSION_BAGGAGE_KEY}=${SID}`].join(',');
    const r = parseBaggage(header);
    expect(r.entries).toHaveLength(64);
    expect(r.entries.some((e) => e.key === SESSION_BAGGAGE_KEY)).toBe(true);
    expect(r.dropped).toBe(2);
    // Entries are dropped whole: every kept value is intact.
    expect(r.entries.filter((e) => e.key !== SESSION_BAGGAGE_KEY).every((e) => e.value === 'vvv')).toBe(true);
  });

  it('9000 bytes: whole entries dropped to fit 8192, the session entry (last in the header) kept', () => {
    const members = Array.from({ length: 30 }, (_, i) => member(i, 296));
    const header = [...members, `${SESSION_BAGGAGE_KEY}=${SID}`].join(',');
    expect(header.length).toBeGreaterThan(9000);
    const r = parseBaggage(header);
    const kept = serializeBaggage(r.entries);
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(8192);
    expect(r.entries.find((e) => e.key === SESSION_BAGGAGE_KEY)?.value).toBe(SID);
    expect(r.entries.every((e) => e.key === SESSION_BAGGAGE_KEY || e.value.length === 296)).toBe(true);
    expect(kept.startsWith(`${SESSION_BAGGAGE_KEY}=${SID},`)).toBe(true);
  });

  it('limits can be raised or lowered', () => {
    const header = Array.from({ length: 100 }, (_, i) => `k${i}=v`).join(',');
    expect(parse(header, { maxBaggageMembers: 200 })).toHaveLength(100);
    expect(parse(header, { maxBaggageMembers: 5 })).toHaveLength(5);
  });

  it('a 1 MB header is examined only up to maxScanBytes (counted, not timed)', () => {
    const counters = sharedState().counters;
    const bytesBefore = counters.baggageBytesExamined;
    const membersBefore = counters.baggageMembersExamined;
    const header = `${SESSION_BAGGAGE_KEY}=${SID},` + 'x=' + 'y'.repeat(1024 * 1024);
    const r = parseBaggage(header);
    expect(r.examinedBytes).toBe(65536);
    expect(r.scanCut).toBe(true);
    expect(counters.baggageBytesExamined - bytesBefore).toBe(65536);
    expect(counters.baggageMembersExamined - membersBefore).toBe(2);
    // The member cut by the window is dropped whole; the session entry before it is kept.
    expect(r.entries).toEqual([{ key: SESSION_BAGGAGE_KEY, value: SID }]);
  });

  it('a header of many tiny members is examined only up to maxScanMembers', () => {
    const counters = sharedState().counters;
    const membersBefore = counters.baggageMembersExamined;
    const r = parseBaggage(','.repeat(100_000) + 'a=1');
    expect(r.examinedMembers).toBe(512);
    expect(counters.baggageMembersExamined - membersBefore).toBe(512);
    expect(r.examinedBytes).toBe(512);
    expect(r.entries).toEqual([]);
    expect(r.scanCut).toBe(true);
  });

  it('a member ending exactly at the window edge (followed by a comma) is complete', () => {
    const header = `a=${'v'.repeat(98)},b=2`;
    const r = parseBaggage(header, { maxScanBytes: 100 });
    expect(r.entries.map((e) => e.key)).toEqual(['a']);
    const cut = parseBaggage(`a=${'v'.repeat(99)},b=2`, { maxScanBytes: 100 });
    expect(cut.entries).toEqual([]);
  });
});

describe('baggage: serializing', () => {
  it('percent-encodes outside baggage-octet and % itself, UTF-8, uppercase hex', () => {
    expect(encodeBaggageValue('a b,c;d\\e"f%g')).toBe('a%20b%2Cc%3Bd%5Ce%22f%25g');
    expect(encodeBaggageValue('é€😀')).toBe('%C3%A9%E2%82%AC%F0%9F%98%80');
    expect(encodeBaggageValue('\u0000\u007f')).toBe('%00%7F');
    expect(encodeBaggageValue('plain-=!~')).toBe('plain-=!~');
  });

  it('encodes lone surrogates as U+FFFD', () => {
    expect(encodeBaggageValue('a\ud800b')).toBe('a%EF%BF%BDb');
    expect(decodeBaggageValue(encodeBaggageValue('\udc00'))).toBe('\uFFFD');
  });

  it('writes the session entry first and never drops it for the others', () => {
    const items: BaggageItem[] = [
      ...Array.from({ length: 64 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
      { key: SESSION_BAGGAGE_KEY, value: SID, metadata: 'root=00f067aa0ba902b7' },
    ];
    const header = serializeBaggage(items);
    const members = header.split(',');
    expect(members).toHaveLength(64);
    expect(members[0]).toBe(`${SESSION_BAGGAGE_KEY}=${SID};root=00f067aa0ba902b7`);
  });

  it('drops non-token keys, invalid session values, repeated keys; malformed metadata only', () => {
    const header = serializeBaggage([
      { key: 'bad key', value: 'x' },
      { key: '', value: 'x' },
      { key: 'ké', value: 'x' },
      { key: SESSION_BAGGAGE_KEY, value: 'forged' },
      { key: 'a', value: '1', metadata: 'p=1; q' },
      { key: 'a', value: '2' },
      { key: 'b', value: '2', metadata: 'not valid;;' },
    ]);
    expect(header).toBe('a=1;p=1;q,b=2');
  });

  it('drops whole entries over the byte limit, never a partial value', () => {
    const header = serializeBaggage([
      { key: 'a', value: 'x'.repeat(5000) },
      { key: 'b', value: 'y'.repeat(5000) },
      { key: 'c', value: 'z' },
    ]);
    expect(header).toBe(`a=${'x'.repeat(5000)},c=z`);
  });

  it('counts the encoded size against the limit', () => {
    // 3000 'é' = 18000 encoded bytes: does not fit 8192 even though it is 3000 characters.
    expect(
      serializeBaggage([
        { key: 'a', value: 'é'.repeat(3000) },
        { key: 'b', value: '1' },
      ]),
    ).toBe('b=1');
  });

  it('isBaggageKey / normalizeProperties', () => {
    expect(isBaggageKey("!#$%&'*+-.^_`|~09AZaz")).toBe(true);
    expect(isBaggageKey('a=b')).toBe(false);
    expect(normalizeProperties(' p \t=\t v ;q')).toBe('p=v;q');
    expect(normalizeProperties('p=a b')).toBeUndefined();
    expect(normalizeProperties('')).toBeUndefined();
  });
});
