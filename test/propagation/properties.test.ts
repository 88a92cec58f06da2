import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
  type Context,
  type TextMapGetter,
} from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SESSION_PERMIT_KEY } from '../../src/base/context-keys.js';
import { decodeBaggageValue, encodeBaggageValue } from '../../src/propagation/baggage-encoding.js';
import { parseBaggage as parseCodec, serializeBaggage as serializeCodec, type BaggageItem } from '../../src/propagation/baggage.js';
import { readHeaderValue } from '../../src/propagation/carrier-values.js';
import { sessionPropagator } from '../../src/propagator/session-propagator.js';
import { parseTraceparent } from '../../src/propagation/traceparent.js';
import { parseTracestate } from '../../src/propagation/tracestate.js';
import { SESSION_BAGGAGE_KEY, SESSION_MEMBER } from '../../src/session/entry.js';

// The codec applied as the session propagator applies it: the session entry is its reserved member.
const parseBaggage = (header: string | readonly string[], limits?: Parameters<typeof parseCodec>[1]) =>
  parseCodec(header, limits, SESSION_MEMBER);
const serializeBaggage = (items: Iterable<BaggageItem>, limits?: Parameters<typeof serializeCodec>[1]) =>
  serializeCodec(items, limits, SESSION_MEMBER);

const p = sessionPropagator();
/** What a process with `init({ vetGlobalExtract: true })` registers: the extracted session entry is vetted, so it goes on. */
const vetting = sessionPropagator({ vetExtractedSession: true });
const RUNS = { numRuns: 300 };

// --- Oracles written from the spec text, independently of the parsers under test -------------

/** Spec regex of what we emit (version 00; we only ever write the sampled and random bits). */
const EMITTED_TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[0-3]$/;

function traceparentOracle(s: string): { traceId: string; spanId: string; flags: number } | undefined {
  const t = s.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^]*)?$/.exec(t);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string?];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

const TS_MEMBER = /^([a-z0-9][_0-9a-z\-*/@]{0,255})=([\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e])$/;

function tracestateOracle(h: string): Array<[string, string]> | undefined {
  const members = h
    .split(',')
    .map((m) => m.replace(/^[ \t]+/, '').replace(/[ \t]+$/, ''))
    .filter((m) => m.length > 0);
  if (members.length > 32) return undefined;
  const out: Array<[string, string]> = [];
  for (const m of members) {
    const match = TS_MEMBER.exec(m);
    if (!match) return undefined;
    const key = match[1] as string;
    if (!out.some(([k]) => k === key)) out.push([key, match[2] as string]);
  }
  return out.length > 0 ? out : undefined;
}

/** The W3C baggage ABNF as a regex (what we write must match it). */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const OCTETS = '[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]*';
const MEMBER = `${TOKEN}=${OCTETS}(?:;${TOKEN}(?:=${OCTETS})?)*`;
const BAGGAGE_HEADER = new RegExp(`^${MEMBER}(?:,${MEMBER})*$`);

const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

// --- Generators --------------------------------------------------------------------------------

const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const traceId = hex(32).filter((s) => !/^0+$/.test(s));
const spanId = hex(16).filter((s) => !/^0+$/.test(s));
const ows = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 2 });

/** Valid traceparents as we would write them (version 00, flags 00..03). */
const emittedTraceparent = fc.tuple(traceId, spanId, fc.integer({ min: 0, max: 3 })).map(([t, s, f]) => `00-${t}-${s}-0${f}`);

/** Traceparents near the grammar: valid ones, future versions, and single-character mutations. */
const nearTraceparent = fc.oneof(
  fc
    .tuple(hex(2), traceId, spanId, hex(2), fc.option(fc.string({ maxLength: 6 })), ows, ows)
    .map(([v, t, s, f, rest, a, b]) => `${a}${v}-${t}-${s}-${f}${rest === null ? '' : `-${rest}`}${b}`),
  fc
    .tuple(emittedTraceparent, fc.nat({ max: 54 }), fc.constantFrom(...'0fF-. \tgA'))
    .map(([tp, i, c]) => tp.slice(0, i) + c + tp.slice(i + 1)),
  fc.tuple(emittedTraceparent, fc.nat({ max: 54 })).map(([tp, i]) => tp.slice(0, i) + tp.slice(i + 1)),
  fc.string({ maxLength: 60 }),
);

const tsKey = fc
  .tuple(fc.constantFrom(...'abcxyz0189'), fc.string({ unit: fc.constantFrom(...'abz09_-*/@'), maxLength: 12 }))
  .map(([a, b]) => a + b);
const tsValue = fc
  .tuple(fc.string({ unit: fc.constantFrom(...' !"+-09<>AZaz~'), maxLength: 10 }), fc.constantFrom(...'!"+-09<>AZaz~'))
  .map(([a, b]) => a + b);
const tsMember = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(tsKey, tsValue).map(([k, v]) => `${k}=${v}`) },
  // Near misses: bad first char, uppercase, '=' or ',' in the value, empty value, trailing space.
  { weight: 1, arbitrary: fc.constantFrom('@k=1', 'K=1', 'k=a=b', 'k=', 'k.x=1', ' ', '', 'k=\u00e9', `${'z'.repeat(257)}=1`) },
);
const tracestateHeader = fc.array(fc.tuple(ows, tsMember, ows), { maxLength: 36 }).map((ms) => ms.map(([a, m, b]) => a + m + b).join(','));

const bagKey = fc.string({ unit: fc.constantFrom(..."abcXYZ09!#$%&'*+-.^_`|~"), minLength: 1, maxLength: 8 });
const bagValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 16 }), fc.string({ maxLength: 16 }));
const bagMetadata = fc
  .array(fc.tuple(bagKey, fc.option(fc.string({ unit: fc.constantFrom(...'ab09=%!~'), maxLength: 6 }))), {
    minLength: 1,
    maxLength: 3,
  })
  .map((props) => props.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(';'));
const bagItems = fc.uniqueArray(fc.record({ key: bagKey, value: bagValue, metadata: fc.option(bagMetadata, { nil: undefined }) }), {
  selector: (i) => i.key,
  maxLength: 12,
});

/** Baggage headers near the grammar: valid members with OWS and properties, session entries, near misses. */
const nearBaggage = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(ows, bagKey, ows, ows, fc.string({ unit: fc.constantFrom(...'az09%3CFE=!~'), maxLength: 10 }), ows)
          .chain(([a, k, b, c, v, d]) =>
            fc.option(bagMetadata, { nil: undefined }).map((m) => `${a}${k}${b}=${c}${v}${d}${m === undefined ? '' : `;${m}`}`),
          ),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(SESSION_BAGGAGE_KEY, 'AgentOps.Session.Id')
          .chain((k) => fc.oneof(hex(32), fc.constant('x')).map((v) => `${k}=${v}`)),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 12 }) },
    ),
    { maxLength: 10 },
  )
  .map((ms) => ms.join(','));

const headerValue = fc.oneof(
  fc.anything({ withTypedArray: true, withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.array(
    fc.oneof(
      fc.string(),
      fc.uint8Array().map((u) => Buffer.from(u)),
    ),
    { maxLength: 4 },
  ),
  fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)),
  nearTraceparent,
  tracestateHeader,
  nearBaggage,
);
const carrier = fc.dictionary(
  fc.constantFrom('traceparent', 'tracestate', 'baggage', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'other'),
  headerValue,
);

// --- Helpers -----------------------------------------------------------------------------------

function injectAll(ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  p.inject(ctx.setValue(SESSION_PERMIT_KEY, true), out, defaultTextMapSetter);
  return out;
}

function entriesOf(ctx: Context): Array<[string, string, string | undefined]> {
  return (propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([k, e]) => [k, e.value, e.metadata?.toString()]);
}

const sortEntries = <T extends [string, ...unknown[]]>(xs: T[]): T[] => [...xs].sort((a, b) => (a[0] < b[0] ? -1 : 1));

// --- Properties --------------------------------------------------------------------------------

describe('property: extract never throws', () => {
  it('for any carrier contents', () => {
    fc.assert(
      fc.property(carrier, (c) => {
        const ctx = p.extract(ROOT_CONTEXT, c, defaultTextMapGetter);
        expect(ctx).toBeDefined();
        injectAll(ctx);
      }),
      { numRuns: 500 },
    );
  });

  it('for any carrier and any getter result', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything({ withTypedArray: true }), (c, value) => {
        const getter: TextMapGetter<unknown> = { get: () => value as never, keys: () => [] };
        expect(p.extract(ROOT_CONTEXT, c, getter)).toBeDefined();
      }),
      RUNS,
    );
  });

  it('readHeaderValue never throws and returns a string or undefined', () => {
    fc.assert(
      fc.property(headerValue, fc.constantFrom('single', 'list') as fc.Arbitrary<'single' | 'list'>, fc.nat(100), (raw, mode, limit) => {
        const v = readHeaderValue(raw, mode, limit);
        expect(v === undefined || typeof v === 'string').toBe(true);
        if (v !== undefined) expect(v.length).toBeLessThanOrEqual(limit + 1);
      }),
      RUNS,
    );
  });
});

describe('property: parsers agree with oracles written from the spec text', () => {
  it('parseTraceparent', () => {
    fc.assert(
      fc.property(nearTraceparent, (s) => {
        const ours = parseTraceparent(s);
        const oracle = traceparentOracle(s);
        expect(ours === undefined ? undefined : { traceId: ours.traceId, spanId: ours.spanId, flags: ours.flags }).toEqual(oracle);
      }),
      { numRuns: 1000 },
    );
  });

  it('parseTracestate (without the 512 truncation)', () => {
    fc.assert(
      fc.property(tracestateHeader, (h) => {
        expect(parseTracestate(h, { maxTracestateLength: Infinity })?.entries()).toEqual(tracestateOracle(h));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('property: anything extracted is valid when propagated', () => {
  it('traceparent always matches the spec; tracestate and baggage re-parse to what was extracted', () => {
    fc.assert(
      fc.property(
        nearTraceparent,
        tracestateHeader,
        fc.oneof(nearBaggage, fc.string({ unit: 'binary-ascii', maxLength: 60 })),
        (tp, ts, bg) => {
          const ctx = vetting.extract(ROOT_CONTEXT, { traceparent: tp, tracestate: ts, baggage: bg }, defaultTextMapGetter);
          const out = injectAll(ctx);
          const sc = trace.getSpanContext(ctx);
          if (sc === undefined) expect(out.traceparent).toBeUndefined();
          else expect(out.traceparent).toMatch(EMITTED_TRACEPARENT);
          if (out.tracestate !== undefined) {
            expect(out.tracestate.length).toBeLessThanOrEqual(512);
            expect(tracestateOracle(out.tracestate)).toEqual(sc?.traceState && parseTracestate(sc.traceState.serialize())?.entries());
          }
          if (out.baggage !== undefined) {
            expect(out.baggage).toMatch(BAGGAGE_HEADER);
            const again = p.extract(ROOT_CONTEXT, { baggage: out.baggage }, defaultTextMapGetter);
            expect(sortEntries(entriesOf(again))).toEqual(sortEntries(entriesOf(ctx)));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('serialized baggage matches the ABNF and re-parses to the same entries', () => {
    fc.assert(
      fc.property(bagItems, (items) => {
        const header = serializeBaggage(items);
        if (items.length === 0) {
          expect(header).toBe('');
          return;
        }
        expect(header).toMatch(BAGGAGE_HEADER);
        const expected = items.map((i) => ({ ...i, value: wellFormed(i.value) }));
        const parsed: BaggageItem[] = parseBaggage(header).entries.map((i) => ({ ...i, metadata: i.metadata }));
        expect(parsed).toEqual(expected);
      }),
      RUNS,
    );
  });
});

describe('property: inject(extract(h)) round-trips valid headers', () => {
  it('traceparent + tracestate + baggage (+ session entry)', () => {
    const validTracestate = fc
      .uniqueArray(fc.tuple(tsKey, tsValue), { selector: ([k]) => k, minLength: 1, maxLength: 12 })
      .map((ms) => ms.map(([k, v]) => `${k}=${v}`).join(','))
      .filter((h) => h.length <= 512);
    fc.assert(
      fc.property(
        emittedTraceparent,
        fc.option(validTracestate, { nil: undefined }),
        bagItems.map((items) => serializeBaggage(items)),
        fc.option(traceId, { nil: undefined }),
        (tp, ts, bg, sid) => {
          const baggage = sid === undefined ? bg : `${SESSION_BAGGAGE_KEY}=${sid}${bg === '' ? '' : ','}${bg}`;
          const c: Record<string, string> = { traceparent: tp };
          if (ts !== undefined) c.tracestate = ts;
          if (baggage !== '') c.baggage = baggage;
          expect(injectAll(vetting.extract(ROOT_CONTEXT, c, defaultTextMapGetter))).toEqual(c);
        },
      ),
      RUNS,
    );
  });
});

describe('property: percent-encoding', () => {
  it('decode(encode(s)) is s (well-formed) for any unicode, and encode emits baggage-octets only', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string()), (s) => {
        const enc = encodeBaggageValue(s);
        expect(enc).toMatch(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/);
        expect(decodeBaggageValue(enc)).toBe(wellFormed(s));
        expect(parseBaggage(`k=${enc}`).entries[0]?.value).toBe(wellFormed(s));
      }),
      { numRuns: 500 },
    );
  });

  it('decoding arbitrary escapes never throws and yields well-formed text', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            hex(2).map((h) => `%${h}`),
            fc.constantFrom('%', '%4', 'a', '%zz', '%FF'),
          ),
          { maxLength: 12 },
        ),
        (parts) => {
          const out = decodeBaggageValue(parts.join(''));
          expect(out).toBe(wellFormed(out));
        },
      ),
      RUNS,
    );
  });
});
