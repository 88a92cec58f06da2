// Generators of hostile propagation input for fast-check: near-valid W3C fields (the inputs most
// likely to slip through a parser), garbage, invalid UTF-8, lone surrogates, wrong types, repeated
// keys, and every carrier shape a transport or user code can hand a hop.
//
// fast-check decides the structure (which fields, how many, which grammar, where a mutation
// goes); the leaves (random ids, garbage strings, byte runs) are drawn from a small PRNG seeded by
// one fast-check integer. A million cases per carrier would otherwise spend most of their time
// generating characters one by one; a failure still replays from fast-check's seed and path.

import fc from 'fast-check';
import { createKeyring, signSessionEntry } from '../../src/policy/signing.js';

/** Two well-formed sessions the generators refer to, so that forged and conflicting entries occur often. */
export const SESSION_A = '4bf92f3577b34da6a3ce929d0e0e4736';
const SESSION_B = '0af7651916cd43dd8448eb211c80319c';
const SPAN_A = '00f067aa0ba902b7';
const SPAN_B = 'b7ad6b7169203331';

// ---------------------------------------------------------------------------------------------
// Seeded leaves

/** mulberry32: a tiny deterministic PRNG, enough to spread one seed over a leaf's characters. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, from: readonly T[]): T {
  return from[Math.floor(random() * from.length)] as T;
}

/** A leaf computed from one generated integer. */
function seeded<T>(build: (random: () => number) => T): fc.Arbitrary<T> {
  return fc.nat().map((seed) => build(prng(seed)));
}

const HEX = '0123456789abcdef';
const hex = (length: number): fc.Arbitrary<string> =>
  seeded((r) => {
    let s = '';
    for (let i = 0; i < length; i++) s += HEX[Math.floor(r() * 16)];
    return s;
  });

/** Characters that break parsers: separators, controls, non-ASCII, surrogates, U+FFFD, NUL. */
const NASTY = [
  ',',
  ';',
  '=',
  '%',
  ' ',
  '\t',
  '\r',
  '\n',
  '\u0000',
  '\u0001',
  '\u007f',
  '"',
  '\\',
  '-',
  '@',
  '/',
  '\u0080',
  '\u00ff',
  '\u00e9',
  '\u2028',
  '\ufeff',
  '\ufffd',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  '\u{10ffff}',
];
const TOKEN_CHARS = [..."abcxyzABC019-_.*!#$&'+^`|~"];
const VALUE_CHARS = [..."abcXYZ0189-_.:/!#$&'()*+<>=?@[]^`{|}~%"];
const PERCENT = [
  '%20',
  '%E2%82%AC',
  '%FF',
  '%FE%FF',
  '%C3',
  '%C3%28',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%zz',
  '%2',
  '%',
  '%%',
  '%00',
  '%0a',
  '%e2%82%ac',
];

function randomString(r: () => number, maxLength: number, char: () => string): string {
  const n = Math.floor(r() * (maxLength + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += char();
  return s;
}

/** Any string at all: any code point, lone surrogates, controls, separators. */
export const anyText: fc.Arbitrary<string> = seeded((r) =>
  randomString(r, 40, () => {
    const kind = r();
    if (kind < 0.4) return String.fromCharCode(0x20 + Math.floor(r() * 95));
    if (kind < 0.7) return pick(r, NASTY);
    if (kind < 0.8) return String.fromCharCode(0xd800 + Math.floor(r() * 0x800));
    const cp = Math.floor(r() * 0x110000);
    return cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : String.fromCodePoint(cp);
  }),
);

const nastyChar = fc.constantFrom(...NASTY);
const token = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'k',
      'key',
      'userId',
      'tenant',
      'a.b',
      'x-y_z',
      '!#$&',
      'K9',
      'sessionid',
      'agentops',
      'agentops.session',
      'session.id',
    ),
  },
  { weight: 2, arbitrary: seeded((r) => pick(r, TOKEN_CHARS) + randomString(r, 11, () => pick(r, TOKEN_CHARS))) },
);
const baggageValue = seeded((r) =>
  randomString(r, 6, () => {
    const kind = r();
    if (kind < 0.65) return randomString(r, 10, () => pick(r, VALUE_CHARS));
    if (kind < 0.85) return pick(r, PERCENT);
    return pick(r, NASTY);
  }),
);

/** A string with a nasty character inserted at, or replacing the character at, a random place. */
function mutated(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.nat(), nastyChar, fc.boolean()).map(([s, at, ch, replace]) => {
    const i = s.length === 0 ? 0 : at % s.length;
    return s.slice(0, i) + ch + s.slice(replace ? i + 1 : i);
  });
}

// ---------------------------------------------------------------------------------------------
// W3C fields, right and nearly right

const traceId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(SESSION_A, SESSION_B) },
  { weight: 2, arbitrary: hex(32) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('0'.repeat(32), SESSION_A.toUpperCase(), SESSION_A.slice(1), `${SESSION_A}0`, `${SESSION_A.slice(0, 31)}g`),
  },
);
const spanId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(SPAN_A, SPAN_B) },
  { weight: 2, arbitrary: hex(16) },
  { weight: 1, arbitrary: fc.constantFrom('0'.repeat(16), SPAN_A.toUpperCase(), SPAN_A.slice(1), `${SPAN_A}0`) },
);
const flagsByte = fc.oneof(fc.constantFrom('00', '01', '02', '03', 'ff', '0g', '1', '001', 'FF'), hex(2));
const ows = fc.constantFrom('', '', '', ' ', '\t', '  \t ');
const version = fc.constantFrom('00', '00', '00', '01', 'cc', 'fe', 'ff', '0', 'zz');
const traceparentTail = fc.constantFrom('', '', '', '-', '-extra', '-00', 'x');

/** A traceparent, usually valid, often a near miss. */
const traceparentText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(ows, version, traceId, spanId, flagsByte, traceparentTail, ows)
      .map(([a, v, t, s, f, tail, b]) => `${a}${v}-${t}-${s}-${f}${tail}${b}`),
  },
  { weight: 2, arbitrary: mutated(fc.tuple(traceId, spanId).map(([t, s]) => `00-${t}-${s}-01`)) },
  { weight: 1, arbitrary: fc.tuple(traceId, spanId).map(([t, s]) => `00_${t}_${s}_01`) },
);

const sig = fc.oneof(
  fc.constant('v1.k0.9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
  seeded((r) =>
    [
      pick(r, ['v1', 'v2', '']),
      pick(r, ['k0', 'k1', 'x']),
      pick(r, ['1', '9999999999', '-1', '1e9', '']),
      randomString(r, 50, () => pick(r, [...'AZaz09-_+/='])),
    ].join('.'),
  ),
);
const sessionProperty = fc.oneof(
  spanId.map((s) => `root=${s}`),
  flagsByte.map((f) => `flags=${f}`),
  sig.map((s) => `sig=${s}`),
  fc.tuple(token, fc.option(baggageValue)).map(([k, v]) => (v === null ? k : `${k}=${v}`)),
  fc.constantFrom('', '=', 'root', 'root=', ';'),
);

/** The key whose signatures the generators forge; a hop verifying with it accepts only {@link SIGNED_A}. */
export const FUZZ_SIGNING_KEY = 'fuzz-signing-key-0123456789';
// Signed as of 2100, so that it is still valid whenever the tests run.
const SIGNATURE_A = signSessionEntry(
  { sessionId: SESSION_A, rootSpanId: SPAN_A, traceFlags: 3 },
  createKeyring(FUZZ_SIGNING_KEY),
  4_102_444_800,
);
/** A correctly signed session entry for {@link SESSION_A}: the one entry a verifying hop may accept. */
const SIGNED_A = `agentops.session.id=${SESSION_A};root=${SPAN_A};flags=03;sig=${SIGNATURE_A}`;
/** The signature of {@link SIGNED_A}: an accepted signed session must have come with it. */
export const SIGNATURE_OF_A = SIGNATURE_A;

/** The session entry, every way it can be right or wrong. */
const sessionMember: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom('agentops.session.id', 'agentops.session.id', 'Agentops.Session.Id', 'agentops.session.id '),
        ows,
        traceId,
        fc.array(fc.tuple(ows, sessionProperty), { maxLength: 4 }),
      )
      .map(([key, space, id, props]) => `${key}=${space}${id}${props.map(([o, p]) => `${o};${o}${p}`).join('')}`),
  },
  // Signed, and signed then tampered with: another session, another root, other flags, a flipped MAC.
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      SIGNED_A,
      SIGNED_A,
      SIGNED_A.replace(SESSION_A, SESSION_B),
      SIGNED_A.replace(SPAN_A, SPAN_B),
      SIGNED_A.replace('flags=03', 'flags=01'),
      SIGNED_A.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
      SIGNED_A.replace(`;root=${SPAN_A}`, ''),
    ),
  },
);

const baggageMember = fc.oneof(
  { weight: 3, arbitrary: sessionMember },
  {
    weight: 4,
    arbitrary: fc
      .tuple(ows, token, ows, baggageValue, fc.array(sessionProperty, { maxLength: 2 }))
      .map(([a, k, b, v, props]) => `${a}${k}${b}=${b}${v}${props.map((p) => `;${p}`).join('')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', ' ', '=', '=v', 'k', 'k=v=w', ';', 'k=v;', 'k=v;;', '__proto__=x', 'constructor=y', 'toString=z'),
  },
  { weight: 1, arbitrary: mutated(fc.tuple(token, baggageValue).map(([k, v]) => `${k}=${v}`)) },
);

/** A baggage list: valid, partly valid, conflicting session entries, malformed members. */
const baggageText: fc.Arbitrary<string> = fc
  .tuple(fc.array(baggageMember, { maxLength: 8 }), fc.constantFrom(',', ',', ', ', ' ,\t', ',,'))
  .map(([members, sep]) => members.join(sep));

const tracestateMember = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom('rojo', 'congo', 'vendor@tenant', 'a', 'z9_-*/', 'x@', 'foo@@bar'),
        seeded((r) => randomString(r, 16, () => pick(r, [...'abc019 !#~:']))),
      )
      .map(([k, v]) => `${k}=${v.trimEnd() || 'v'}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '@foo=bar',
      'UPPER=x',
      'k=',
      'k= ',
      'k=a,b',
      '=v',
      'k==v',
      'k=v=w',
      `${'k'.repeat(257)}=v`,
      `k=${'v'.repeat(257)}`,
    ),
  },
  { weight: 1, arbitrary: mutated(fc.constant('rojo=00f067aa0ba902b7')) },
);

/** A tracestate list, valid or not, sometimes over 32 members. */
const tracestateText: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.array(tracestateMember, { maxLength: 6 }).map((m) => m.join(',')) },
  { weight: 1, arbitrary: fc.integer({ min: 30, max: 40 }).map((n) => Array.from({ length: n }, (_, i) => `k${i}=v`).join(',')) },
);

/** A B3 single-header value or one of the multi-header values. */
const b3Text: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(traceId, spanId, fc.constantFrom('', '-1', '-0', '-d', '-x'), fc.constantFrom('', `-${SPAN_B}`))
    .map(([t, s, sampled, parent]) => `${t}-${s}${sampled}${parent}`),
  fc.constantFrom('0', '1', 'd', 'true'),
  traceId.map((t) => t.slice(16)),
);

/** A propagation header value as text: the right field's grammar, another field's, or garbage. */
export const headerText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: traceparentText },
  { weight: 4, arbitrary: baggageText },
  { weight: 2, arbitrary: tracestateText },
  { weight: 1, arbitrary: b3Text },
  { weight: 2, arbitrary: anyText },
);

/** The value a field of that name most plausibly holds (near-valid input reaches deepest). */
function textFor(name: string): fc.Arbitrary<string> {
  switch (name) {
    case 'traceparent':
      return traceparentText;
    case 'baggage':
      return baggageText;
    case 'tracestate':
      return tracestateText;
    default:
      return b3Text;
  }
}

// ---------------------------------------------------------------------------------------------
// Bytes

const INVALID_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc3],
  [0xe2, 0x82],
  [0x00],
];

/** Text as UTF-8 with invalid sequences (lone continuation bytes, overlongs, surrogates, truncations) spliced in. */
function corrupted(text: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc.tuple(text, fc.nat({ max: 3 }), fc.nat()).map(([value, splices, seed]) => {
    let bytes = Buffer.from(value, 'utf8');
    const r = prng(seed);
    for (let n = 0; n < splices; n++) {
      const i = Math.floor(r() * (bytes.length + 1));
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from(pick(r, INVALID_UTF8)), bytes.subarray(i)]);
    }
    return bytes;
  });
}

/** Random bytes, up to `maxLength` of them (payloads, keys, garbage header values). */
export function randomBytes(maxLength: number): fc.Arbitrary<Buffer> {
  return seeded((r) => Buffer.from(Array.from({ length: Math.floor(r() * (maxLength + 1)) }, () => Math.floor(r() * 256))));
}

/** A header value as raw bytes: text as UTF-8 with invalid sequences spliced in, or random bytes. */
const headerBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: corrupted(headerText) },
  { weight: 1, arbitrary: randomBytes(64) },
);

// ---------------------------------------------------------------------------------------------
// Carriers

const W3C_NAMES = ['traceparent', 'tracestate', 'baggage'] as const;

/** Names a hostile carrier uses: the W3C and B3 fields in several casings, prototype keys, others. */
export const fieldName: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...W3C_NAMES) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'Traceparent',
      'TRACEPARENT',
      'Baggage',
      'BAGGAGE',
      'TraceState',
      'b3',
      'B3',
      'x-b3-traceid',
      'X-B3-SpanId',
      'x-b3-sampled',
      'x-b3-flags',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'toString', 'x-user', 'content-type', '') },
);

/** An object whose keys are own data properties, `__proto__` included, as a parser would make it. */
function ownRecord(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

/**
 * A plausible carrier: each W3C field at most once, holding that field's (near-)valid grammar,
 * plus hostile extras. Most sessions that a hop may accept come from here.
 */
function plausible<V>(
  value: (name: string) => fc.Arbitrary<V>,
  extra: fc.Arbitrary<readonly [string, unknown]>,
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(
      fc.option(value('traceparent'), { freq: 4 }),
      fc.option(value('baggage'), { freq: 6 }),
      fc.option(value('tracestate'), { freq: 2 }),
      fc.array(extra, { maxLength: 2 }),
    )
    .map(([traceparent, baggage, tracestate, extras]) => {
      const entries: (readonly [string, unknown])[] = [];
      if (traceparent !== null) entries.push(['traceparent', traceparent]);
      if (baggage !== null) entries.push(['baggage', baggage]);
      if (tracestate !== null) entries.push(['tracestate', tracestate]);
      return ownRecord([...entries, ...extras]);
    });
}

/** A Kafka header value as kafkajs or a producer may present it, nulls and arrays included. */
const kafkaHeaderValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: headerBytes },
  { weight: 3, arbitrary: headerText },
  { weight: 2, arbitrary: fc.array(fc.oneof(headerBytes, headerText, fc.constant(null)), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, 0, 42, true, {}, [], { toString: 'x' }) },
);

/** Kafka headers: repeated fields, mixed casings, Buffers, strings, arrays, nulls. */
export const kafkaHeaders: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 2, arbitrary: fc.array(fc.tuple(fieldName, kafkaHeaderValue), { maxLength: 5 }).map(ownRecord) },
  // As kafkajs delivers them: every value a Buffer.
  { weight: 3, arbitrary: plausible((name) => corrupted(textFor(name)), fc.tuple(fieldName, kafkaHeaderValue)) },
);

/** Node's `req.headers`: lowercase names, string values (arrays where user code built the record). */
export const incomingHeaders: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.tuple(
          fieldName.map((n) => n.toLowerCase()),
          fc.oneof({ weight: 5, arbitrary: headerText }, { weight: 1, arbitrary: fc.array(headerText, { minLength: 1, maxLength: 3 }) }),
        ),
        { maxLength: 5 },
      )
      .map(ownRecord),
  },
  {
    weight: 3,
    arbitrary: plausible(
      textFor,
      fc.tuple(
        fieldName.map((n) => n.toLowerCase()),
        headerText,
      ),
    ),
  },
);

/** Headers user code may hand an outbound HTTP call: records in any case, tuples, flat lists, numbers, nulls. */
export const userHttpHeaders: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .array(fc.tuple(fieldName, fc.oneof(headerText, fc.array(headerText, { maxLength: 2 }), fc.constantFrom(null, undefined, 7))), {
      maxLength: 4,
    })
    .map(ownRecord),
  fc.array(fc.tuple(fieldName, headerText), { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => [k, v])),
  fc.array(fc.tuple(fieldName, headerText), { maxLength: 4 }).map((pairs) => pairs.flat()),
  fc.constantFrom(undefined, null, 'not headers', 42),
);

/** What BullMQ may find in `opts.telemetry.metadata`: our JSON, someone else's, not JSON, wrong types. */
export const jobMetadata: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: plausible(
      textFor,
      fc.tuple(
        fieldName,
        fc.oneof({ weight: 3, arbitrary: headerText }, { weight: 1, arbitrary: fc.constantFrom(null, 1, true, [], {}, ['x']) }),
      ),
    ).map((o) => JSON.stringify(o)),
  },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.tuple(
          fieldName,
          fc.oneof({ weight: 5, arbitrary: headerText }, { weight: 1, arbitrary: fc.constantFrom(null, 1, true, [], {}, ['x']) }),
        ),
        { maxLength: 5 },
      )
      .map((entries) => JSON.stringify(ownRecord(entries))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'null',
      '[]',
      '"x"',
      '1',
      'true',
      '{',
      '{"traceparent":',
      '{"agentops":{"x":1}}',
      '{"__proto__":{"traceparent":"x"}}',
      '\u0000',
      '{}',
    ),
  },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, -1, true, false, {}, [], { traceparent: 1 }, ['{}'], 12.5) },
);

// ---------------------------------------------------------------------------------------------
// Comparing before and after

/** A deep copy that keeps Buffers as Buffers, for comparing an input before and after a hop. */
export function snapshot<T>(value: T): T {
  if (Buffer.isBuffer(value)) return Buffer.from(value) as T;
  if (Array.isArray(value)) return value.map(snapshot) as T;
  if (typeof value === 'object' && value !== null) {
    return ownRecord(Object.keys(value).map((k) => [k, snapshot((value as Record<string, unknown>)[k])])) as T;
  }
  return value;
}

/** True when `a` and `b` hold the same data: same own keys, same bytes, same primitives (NaN included). */
export function sameData(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameData(v, b[i]));
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every((k, i) => k === kb[i] && sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return Object.is(a, b);
}

/** Freezes `value` and everything in it (Buffers cannot be frozen and are left as they are). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
