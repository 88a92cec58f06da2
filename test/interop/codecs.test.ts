/**
 * The baggage codecs of the SDKs people run beside this library, each run for real on our
 * headers (issue 16): OpenTelemetry Python, Java and Go (their W3C baggage propagators, extract
 * then inject), and @sentry/node 10 and 11 (the @sentry/core functions their instrumentations
 * call, and a real `fetch` and `http.request` inside a Sentry span, captured by a local server).
 * scripts/codec-peers.mjs builds the Go and Java programs into .cache/codec-peers; every SDK is
 * pinned (go.mod/go.sum, pom.xml, the Python requirements, package.json).
 *
 * Each test states one behaviour and asserts every SDK's exact output: docs/baggage-interop.md
 * is the table of these tests. "this library" is the session propagator forwarding a header as
 * a middle hop does (it vets the entry it extracted and writes it out again).
 */
import { defaultTextMapGetter, defaultTextMapSetter, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCodecPeers, runPeer, type CodecPeers } from '../../scripts/codec-peers.mjs';
import { contextWithVettedSession, resolveInbound, startOutboundHop } from '../../src/engine.js';
import { createKeyring, sessionPropagator } from '../../src/index.js';
import type { SessionEntry } from '../../src/session/entry.js';
import { entryOfBaggage } from '../helpers/session-entry.js';

// --- inputs ----------------------------------------------------------------------------------

const ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const ROOT = '00f067aa0ba902b7';
/** 43 base64url characters, '-' and '_' among them. */
const MAC = 'q-3Zt_0aVbW9xYk2LmN4oP6rS8uT1vXyZ-AbCdEf_Gh';
const SIG = `v1.k1.1796537930.${MAC}`;
const FIXED_ENTRY: SessionEntry = { sessionId: ID, rootSpanId: ROOT, traceFlags: 3, signature: SIG };
const SENTRY_TRACE = 'sentry-trace_id=0af7651916cd43dd8448eb211c80319c';
const AFTER = 'langfuse_session_id=abc,userId=alice%20b';

/** 0.1.0: one member, the fields as W3C properties. */
const OLD = `agentops.session.id=${ID};root=${ROOT};flags=03`;
const OLD_SIGNED = `${OLD};sig=${SIG}`;
/** 0.2.0: one member per field, no properties. */
const NEW = `agentops.session.id=${ID},agentops.session.root=${ROOT},agentops.session.flags=03,agentops.session.sig=${SIG}`;
/** What this library writes when it forwards an entry it did not sign itself (no key here). */
const NEW_UNSIGNED = `agentops.session.id=${ID},agentops.session.root=${ROOT},agentops.session.flags=03`;
/** OLD_SIGNED as OTel Python and Sentry forward it. */
const OLD_ENCODED = `agentops.session.id=${ID}%3Broot%3D${ROOT}%3Bflags%3D03%3Bsig%3D${SIG}`;
const x = (n: number): string => 'x'.repeat(n);
const m = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) => `m${from + i}=${from + i}`).join(',');
const P = Array.from({ length: 5 }, (_, i) => `p${i}=${x(2000)}`);

const INPUTS = {
  old: OLD,
  oldSigned: OLD_SIGNED,
  oldAmong: `${SENTRY_TRACE},${OLD_SIGNED},${AFTER}`,
  oldEncoded: OLD_ENCODED,
  new: NEW,
  newAmong: `${SENTRY_TRACE},${NEW},${AFTER}`,
  upperHex: `agentops.session.id=${ID.toUpperCase()},agentops.session.root=${ROOT.toUpperCase()}`,
  plus: 'k=a+b',
  pct20: 'k=a%20b',
  pct2B: 'k=a%2Bb',
  pct2bLower: 'k=a%2bb',
  space: 'k=a b,z=1',
  ows: 'k = v ,z=1',
  pctEdgeSpace: 'k=%20v%20,z=1',
  pctFF: 'k=%FF,z=1',
  pctBare: 'k=100%,z=1',
  utf8: 'k=%E2%82%AC',
  empty: 'k=,z=1',
  propFlag: 'k=v;flag,z=1',
  propValue: 'k=v;p=1',
  malformed: `${NEW},novalue,z=1`,
  duplicate: 'k=1,k=2',
  members65: m(0, 65),
  sessionAfter64: `${m(0, 64)},${NEW}`,
  over8192: `${NEW},${P.join(',')}`,
  member4097: `${NEW},big=${x(4093)}`,
} as const;
type InputName = keyof typeof INPUTS;

// --- what the peers print --------------------------------------------------------------------

interface GoLine {
  input: string;
  injected: string | null;
  injectOrders: number;
  members: { key: string; value: string; properties: { key: string; value: string | null }[] }[];
  error: string | null;
}
interface JavaLine {
  input: string;
  injected: string | null;
  members: { key: string; value: string; metadata: string }[];
}
interface PythonLine {
  input: string;
  injected: string | null;
  members: { key: string; value: string }[];
}
interface SentryHead {
  sdk: string;
  core: string;
  sentryOwn: string;
}
interface SentryLine {
  input: string;
  parsed: [string, string][] | null;
  rebuilt: string | null;
  merged: string | null;
  fetch: string[][];
  http: string[][];
}

type Sdk = 'python' | 'sentry10' | 'sentry11' | 'java' | 'go' | 'ours';
const FOREIGN: readonly Exclude<Sdk, 'ours'>[] = ['python', 'sentry10', 'sentry11', 'java', 'go'];

/** Sentry's own members, in the order it writes them after everything else. */
const SENTRY_OWN_KEYS = [
  'sentry-environment',
  'sentry-release',
  'sentry-public_key',
  'sentry-trace_id',
  'sentry-transaction',
  'sentry-sampled',
  'sentry-sample_rand',
  'sentry-sample_rate',
];

/**
 * The part of a header Sentry sent that is not its own: Sentry appends its own `sentry-*`
 * members last (replacing any the header had); the rest is what it made of ours.
 */
function sentryForwarded(header: string): string | null {
  const members = header.split(',');
  const own = members.slice(-SENTRY_OWN_KEYS.length);
  expect(own.map((member) => member.slice(0, member.indexOf('=')))).toEqual(SENTRY_OWN_KEYS);
  expect(own[0]).toBe('sentry-environment=codec-test');
  const rest = members.slice(0, -SENTRY_OWN_KEYS.length);
  return rest.length === 0 ? null : rest.join(',');
}

/** The one `baggage` line one captured request carried. */
function onlyHeader(requests: string[][]): string {
  expect(requests).toHaveLength(1);
  expect(requests[0]).toHaveLength(1);
  return requests[0]![0]!;
}

const members = (header: string | null): string[] => (header === null ? [] : header.split(','));
/** OpenTelemetry Java writes members sorted by key. */
const sortedByKey = (header: string): string =>
  members(header)
    .sort((a, b) => {
      const ka = a.slice(0, a.indexOf('='));
      const kb = b.slice(0, b.indexOf('='));
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    })
    .join(',');
/** OpenTelemetry Go writes members in map order, which changes from inject to inject. */
const memberSet = (header: string | null): string[] => members(header).sort();

// --- running them ----------------------------------------------------------------------------

const keyring = createKeyring({ keys: { k1: 'codec-interop-signing-secret-0123456789' }, activeKeyId: 'k1' });
/** A session signed for real by this library's outbound hop (set in beforeAll). */
let signed: { entry: SessionEntry; signature: string; newForm: string; oldForm: string; oldFormEncoded: string };

/** Outputs per SDK per input: the header the SDK sends on (Sentry's own members removed). */
const out = {} as Record<Sdk, Record<string, string | null>>;
let go: Record<string, GoLine>;
let java: Record<string, JavaLine>;
let python: Record<string, PythonLine>;
const sentry = {} as Record<'sentry10' | 'sentry11', { head: SentryHead; lines: Record<string, SentryLine> }>;

/** The header the library's outbound hop writes for `entry` inside a session, with a key. */
function libraryHeader(entry: SessionEntry, others: string): string {
  const base = propagation.setBaggage(
    ROOT_CONTEXT,
    propagation.createBaggage(
      Object.fromEntries(members(others).map((member) => [member.split('=')[0]!, { value: member.split('=')[1]! }])),
    ),
  );
  const hop = startOutboundHop({
    spanName: 'codec',
    startSpan: false,
    parentContext: contextWithVettedSession(base, entry),
    signing: keyring,
    propagator: sessionPropagator(),
  });
  return hop.fields().baggage!;
}

/** A session whose signature, made now, has both '-' and '_' in its MAC. */
function signedSession(): typeof signed {
  for (let i = 1; i < 500; i++) {
    const entry: SessionEntry = { sessionId: `${i.toString(16).padStart(8, '0')}${ID.slice(8)}`, rootSpanId: ROOT, traceFlags: 3 };
    const newForm = libraryHeader(entry, 'langfuse_session_id=abc');
    const signature = entryOfBaggage(newForm)?.signature ?? '';
    const mac = signature.slice(signature.lastIndexOf('.') + 1);
    if (!mac.includes('-') || !mac.includes('_')) continue;
    const oldForm = `agentops.session.id=${entry.sessionId};root=${ROOT};flags=03;sig=${signature}`;
    const oldFormEncoded = `agentops.session.id=${entry.sessionId}%3Broot%3D${ROOT}%3Bflags%3D03%3Bsig%3D${signature}`;
    return { entry, signature, newForm, oldForm, oldFormEncoded };
  }
  throw new Error('no signature with both - and _ in 500 tries');
}

/** This library as a middle hop: extract, vet what arrived, inject again. */
const forwarder = sessionPropagator({ vetExtractedSession: true, alwaysInjectSession: true });
function ours(input: string): string | null {
  const ctx = forwarder.extract(ROOT_CONTEXT, { baggage: input }, defaultTextMapGetter);
  const carrier: Record<string, string> = {};
  forwarder.inject(ctx, carrier, defaultTextMapSetter);
  return carrier.baggage ?? null;
}

const byName = <T extends { input: string }>(names: string[], lines: T[]): Record<string, T> => {
  expect(lines.map((line) => line.input)).toEqual(names.map((name) => ALL[name]));
  return Object.fromEntries(names.map((name, i) => [name, lines[i]!]));
};
let ALL: Record<string, string>;

let peers: CodecPeers;

beforeAll(async () => {
  peers = await ensureCodecPeers({ log: () => {} });
  signed = signedSession();
  ALL = {
    ...INPUTS,
    signedNew: signed.newForm,
    signedNewAmong: `${SENTRY_TRACE},${signed.newForm},${AFTER}`,
    signedOld: signed.oldForm,
    signedOldEncoded: signed.oldFormEncoded,
  };
  const names = Object.keys(ALL);
  const values = Object.values(ALL);
  const [goLines, javaLines, pythonLines, sentry10Lines, sentry11Lines] = await Promise.all([
    runPeer(peers.go, values),
    runPeer(peers.java, values),
    runPeer(peers.python, values),
    runPeer(peers.sentry10, values),
    runPeer(peers.sentry11, values),
  ]);
  go = byName(names, goLines as GoLine[]);
  java = byName(names, javaLines as JavaLine[]);
  python = byName(names, pythonLines as PythonLine[]);
  for (const [sdk, lines] of [
    ['sentry10', sentry10Lines],
    ['sentry11', sentry11Lines],
  ] as const) {
    sentry[sdk] = { head: lines[0] as SentryHead, lines: byName(names, lines.slice(1) as SentryLine[]) };
  }
  for (const sdk of ['python', 'sentry10', 'sentry11', 'java', 'go', 'ours'] as const) out[sdk] = {};
  for (const name of names) {
    out.go[name] = go[name]!.injected;
    out.java[name] = java[name]!.injected;
    out.python[name] = python[name]!.injected;
    out.sentry10[name] = sentryForwarded(onlyHeader(sentry.sentry10.lines[name]!.fetch));
    out.sentry11[name] = sentryForwarded(onlyHeader(sentry.sentry11.lines[name]!.fetch));
    out.ours[name] = ours(ALL[name]!);
  }
});

/** Asserts each SDK's output for one input; Go's compared as a set (its order changes). */
function expectOutputs(
  name: InputName,
  expected: { python: string | null; sentry: string | null; java: string | null; go: string | null; ours: string | null },
): void {
  expect({
    python: out.python[name],
    sentry10: out.sentry10[name],
    sentry11: out.sentry11[name],
    java: out.java[name],
    go: memberSet(out.go[name]!),
    ours: out.ours[name],
  }).toEqual({
    python: expected.python,
    sentry10: expected.sentry,
    sentry11: expected.sentry,
    java: expected.java,
    go: memberSet(expected.go),
    ours: expected.ours,
  });
}

// --- the tests -------------------------------------------------------------------------------

describe('the peers are the SDKs named', () => {
  it('runs @sentry/node 10.78.0 and 11.12.0, each with its own @sentry/core', () => {
    expect(sentry.sentry10.head).toMatchObject({ sdk: '10.78.0', core: '10.78.0' });
    expect(sentry.sentry11.head).toMatchObject({ sdk: '11.12.0', core: '11.12.0' });
  });

  it("Sentry's direct calls are what its fetch and http.request instrumentation sends", () => {
    for (const sdk of ['sentry10', 'sentry11'] as const) {
      for (const [name, line] of Object.entries(sentry[sdk].lines)) {
        const viaFetch = out[sdk][name];
        expect({ name, http: sentryForwarded(onlyHeader(line.http)) }).toEqual({ name, http: viaFetch });
        expect({ name, merged: sentryForwarded(line.merged!) }).toEqual({ name, merged: viaFetch });
        // objectToBaggageHeader(parseBaggageHeader(h)) is the merge without Sentry's members; it
        // keeps the header's own sentry-* members, which the merge replaces with Sentry's own.
        const rebuilt = members(line.rebuilt).filter((member) => !member.startsWith('sentry-'));
        expect({ name, rebuilt: rebuilt.length === 0 ? null : rebuilt.join(',') }).toEqual({ name, rebuilt: viaFetch });
      }
    }
  });
});

describe('the session entry through each SDK', () => {
  it('the 0.2.0 form passes every SDK byte for byte; Java sorts the members, Go reorders them', () => {
    expectOutputs('new', { python: NEW, sentry: NEW, java: sortedByKey(NEW), go: NEW, ours: NEW_UNSIGNED });
    // Among other members: each agentops.session.* member leaves every SDK as it came.
    for (const sdk of FOREIGN) {
      const session = members(out[sdk].newAmong!).filter((member) => member.startsWith('agentops.session.'));
      expect({ sdk, session: session.sort() }).toEqual({ sdk, session: members(NEW).sort() });
    }
  });

  it('0.1.0 properties: Go and Java keep them, Python and Sentry fold them into the value, percent-encoded', () => {
    const pyOld = `agentops.session.id=${ID}%3Broot%3D${ROOT}%3Bflags%3D03`;
    expectOutputs('old', { python: pyOld, sentry: pyOld, java: OLD, go: OLD, ours: NEW_UNSIGNED });
    expectOutputs('oldSigned', { python: OLD_ENCODED, sentry: OLD_ENCODED, java: OLD_SIGNED, go: OLD_SIGNED, ours: NEW_UNSIGNED });
    expectOutputs('oldAmong', {
      python: `${SENTRY_TRACE},${OLD_ENCODED},langfuse_session_id=abc,userId=alice+b`,
      sentry: `${OLD_ENCODED},${AFTER}`,
      java: sortedByKey(INPUTS.oldAmong),
      go: INPUTS.oldAmong,
      ours: `${NEW_UNSIGNED},${SENTRY_TRACE},${AFTER}`,
    });
    expect(python.oldSigned!.members).toEqual([{ key: 'agentops.session.id', value: `${ID};root=${ROOT};flags=03;sig=${SIG}` }]);
    expect(sentry.sentry11.lines.oldSigned!.parsed).toEqual([['agentops.session.id', `${ID};root=${ROOT};flags=03;sig=${SIG}`]]);
    expect(java.oldSigned!.members).toEqual([{ key: 'agentops.session.id', value: ID, metadata: `root=${ROOT};flags=03;sig=${SIG}` }]);
    expect(go.oldSigned!.members).toEqual([
      {
        key: 'agentops.session.id',
        value: ID,
        properties: [
          { key: 'root', value: ROOT },
          { key: 'flags', value: '03' },
          { key: 'sig', value: SIG },
        ],
      },
    ]);
  });

  it("0.1.0's percent-encoded value: Python, Sentry and Java keep it byte for byte, Go encodes only the ';'", () => {
    const goForm = `agentops.session.id=${ID}%3Broot=${ROOT}%3Bflags=03%3Bsig=${SIG}`;
    expectOutputs('oldEncoded', { python: OLD_ENCODED, sentry: OLD_ENCODED, java: OLD_ENCODED, go: goForm, ours: NEW_UNSIGNED });
  });

  it("this library reads id, root, flags and signature from every SDK's output of both forms", () => {
    for (const name of ['old', 'oldSigned', 'oldAmong', 'oldEncoded', 'new', 'newAmong', 'malformed', 'member4097'] as const) {
      const expected = name === 'old' ? { sessionId: ID, rootSpanId: ROOT, traceFlags: 3 } : FIXED_ENTRY;
      for (const sdk of FOREIGN) {
        expect({ name, sdk, entry: entryOfBaggage(out[sdk][name]!) }).toEqual({ name, sdk, entry: expected });
      }
    }
  });

  it("a signature made by this library's outbound hop still verifies after every SDK, in both forms", () => {
    expect(signed.newForm).toBe(
      `agentops.session.id=${signed.entry.sessionId},agentops.session.root=${ROOT},agentops.session.flags=03,` +
        `agentops.session.sig=${signed.signature},langfuse_session_id=abc`,
    );
    const accepted = (header: string): SessionEntry | undefined =>
      resolveInbound({
        carrier: { baggage: header },
        getter: defaultTextMapGetter,
        trust: 'trust',
        signing: keyring,
        propagator: sessionPropagator(),
      }).session;
    for (const name of ['signedNew', 'signedNewAmong', 'signedOld', 'signedOldEncoded']) {
      for (const sdk of FOREIGN) {
        const header = out[sdk][name]!;
        expect({ name, sdk, session: accepted(header) }).toEqual({ name, sdk, session: signed.entry });
        // The check is real: the same header with the root changed is refused.
        const altered = header.replace(ROOT, '1111111111111111');
        expect({ name, sdk, session: accepted(altered) }).toEqual({ name, sdk, session: undefined });
      }
    }
    // Byte for byte: the 0.2.0 form through Python and Sentry, sorted by Java, reordered by Go.
    expect([out.python.signedNew, out.sentry10.signedNew, out.sentry11.signedNew]).toEqual([
      signed.newForm,
      signed.newForm,
      signed.newForm,
    ]);
    expect(out.java.signedNew).toBe(sortedByKey(signed.newForm));
    expect(memberSet(out.go.signedNew!)).toEqual(memberSet(signed.newForm));
    // The 0.1.0 form only by way of the percent-encoded value the reader also accepts.
    expect([out.python.signedOld, out.sentry10.signedOld, out.sentry11.signedOld]).toEqual([
      signed.oldFormEncoded,
      signed.oldFormEncoded,
      signed.oldFormEncoded,
    ]);
  });

  it('through Python, Sentry 11, Java, Go and Sentry 10 in a row, both forms still verify; the 0.2.0 members arrive unchanged', async () => {
    const chain = ['python', 'sentry11', 'java', 'go', 'sentry10'] as const;
    const through = async (header: string): Promise<string> => {
      let current = header;
      for (const sdk of chain) {
        const [line] = await runPeer(peers[sdk], [current]).then((lines) => (sdk.startsWith('sentry') ? lines.slice(1) : lines));
        // A Sentry hop sends on its own sentry-* members too: the next hop gets the whole header.
        current = sdk.startsWith('sentry') ? onlyHeader((line as SentryLine).fetch) : (line as GoLine | JavaLine | PythonLine).injected!;
      }
      return current;
    };
    const accepted = (header: string): SessionEntry | undefined =>
      resolveInbound({
        carrier: { baggage: header },
        getter: defaultTextMapGetter,
        trust: 'trust',
        signing: keyring,
        propagator: sessionPropagator(),
      }).session;
    const newForm = await through(`${SENTRY_TRACE},${signed.newForm},${AFTER}`);
    expect(accepted(newForm)).toEqual(signed.entry);
    const sessionMembers = (header: string): string[] =>
      members(header)
        .filter((member) => member.startsWith('agentops.session.'))
        .sort();
    expect(sessionMembers(newForm)).toEqual(sessionMembers(signed.newForm));
    const oldForm = await through(signed.oldForm);
    expect(accepted(oldForm)).toEqual(signed.entry);
    expect(members(oldForm)[0]).toBe(signed.oldFormEncoded);
  });

  it('upper-case hex passes every SDK unchanged; this library refuses an upper-case session id', () => {
    for (const sdk of FOREIGN) expect({ sdk, header: out[sdk].upperHex }).toEqual({ sdk, header: INPUTS.upperHex });
    expect(entryOfBaggage(INPUTS.upperHex)).toBeUndefined();
    expect(out.ours.upperHex).toBeNull();
  });
});

describe('member order and foreign sentry-* members', () => {
  it('Python, Sentry and this library keep the order; Java sorts by key; Go changes it from inject to inject', () => {
    const among = INPUTS.newAmong;
    expect(out.python.newAmong).toBe(among.replace('alice%20b', 'alice+b'));
    expect(out.sentry11.newAmong).toBe(`${NEW},${AFTER}`);
    expect(out.java.newAmong).toBe(sortedByKey(among));
    expect(memberSet(out.go.newAmong!)).toEqual(memberSet(among));
    // 32 injects of one 7-member baggage: Go's map order gave more than one header.
    expect(go.newAmong!.injectOrders).toBeGreaterThan(1);
    expect(out.ours.newAmong).toBe(`${NEW_UNSIGNED},${SENTRY_TRACE},${AFTER}`);
  });

  it("Sentry drops the header's own sentry-* members and appends its own last", () => {
    for (const sdk of ['sentry10', 'sentry11'] as const) {
      const header = onlyHeader(sentry[sdk].lines.newAmong!.fetch);
      expect(header.startsWith(`${NEW},${AFTER},sentry-environment=codec-test,`)).toBe(true);
      expect(header).not.toContain(SENTRY_TRACE);
    }
  });
});

describe('percent-encoding', () => {
  it("'+': Python decodes it as a space (and writes it back as '+'); Java, Sentry and this library write %2B; Go keeps '+'", () => {
    expectOutputs('plus', { python: 'k=a+b', sentry: 'k=a%2Bb', java: 'k=a%2Bb', go: 'k=a+b', ours: 'k=a%2Bb' });
    expect(python.plus!.members).toEqual([{ key: 'k', value: 'a b' }]);
    expect(java.plus!.members[0]!.value).toBe('a+b');
    expect(go.plus!.members[0]!.value).toBe('a+b');
    expect(sentry.sentry11.lines.plus!.parsed).toEqual([['k', 'a+b']]);
  });

  it("'%20': Python writes a space as '+', which every other SDK reads as '+'", () => {
    expectOutputs('pct20', { python: 'k=a+b', sentry: 'k=a%20b', java: 'k=a%20b', go: 'k=a%20b', ours: 'k=a%20b' });
    // Python's output is the `plus` input, whose value every other SDK reads as 'a+b'.
    expect(out.python.pct20).toBe(INPUTS.plus);
    expect([
      java.plus!.members[0]!.value,
      go.plus!.members[0]!.value,
      sentry.sentry10.lines.plus!.parsed,
      sentry.sentry11.lines.plus!.parsed,
    ]).toEqual(['a+b', 'a+b', [['k', 'a+b']], [['k', 'a+b']]]);
    expect(
      propagation.getBaggage(forwarder.extract(ROOT_CONTEXT, { baggage: INPUTS.plus }, defaultTextMapGetter))?.getEntry('k')?.value,
    ).toBe('a+b');
  });

  it("'%2B' and '%2b': Go writes a literal '+', which Python then reads as a space; this library keeps %2B", () => {
    expectOutputs('pct2B', { python: 'k=a%2Bb', sentry: 'k=a%2Bb', java: 'k=a%2Bb', go: 'k=a+b', ours: 'k=a%2Bb' });
    expectOutputs('pct2bLower', { python: 'k=a%2Bb', sentry: 'k=a%2Bb', java: 'k=a%2Bb', go: 'k=a+b', ours: 'k=a%2Bb' });
    // Go's output is the `plus` input, whose value Python reads as 'a b'.
    expect(out.go.pct2B).toBe(INPUTS.plus);
    expect(python.plus!.members[0]!.value).toBe('a b');
  });

  it('a bare space in a value: only Sentry keeps the member (as %20); the others drop it alone', () => {
    expectOutputs('space', { python: 'z=1', sentry: 'k=a%20b,z=1', java: 'z=1', go: 'z=1', ours: 'z=1' });
  });

  it("percent-encoded spaces at a value's ends: Python strips them after decoding; every other SDK keeps them", () => {
    expectOutputs('pctEdgeSpace', {
      python: 'k=v,z=1',
      sentry: 'k=%20v%20,z=1',
      java: 'k=%20v%20,z=1',
      go: 'k=%20v%20,z=1',
      ours: 'k=%20v%20,z=1',
    });
    expect(python.pctEdgeSpace!.members[0]).toEqual({ key: 'k', value: 'v' });
  });

  it('spaces around = and , are dropped by every SDK', () => {
    expectOutputs('ows', { python: 'k=v,z=1', sentry: 'k=v,z=1', java: 'k=v,z=1', go: 'k=v,z=1', ours: 'k=v,z=1' });
  });

  it('%FF (not UTF-8): U+FFFD in Python, Java, Go and this library; Sentry drops the member', () => {
    const fffd = 'k=%EF%BF%BD,z=1';
    expectOutputs('pctFF', { python: fffd, sentry: 'z=1', java: fffd, go: fffd, ours: fffd });
  });

  it("a '%' without two hex digits: Python and this library encode it as %25, Java drops the '%', Go and Sentry drop the member", () => {
    expectOutputs('pctBare', { python: 'k=100%25,z=1', sentry: 'z=1', java: 'k=100,z=1', go: 'z=1', ours: 'k=100%25,z=1' });
  });

  it('UTF-8 percent-encoding passes every SDK unchanged', () => {
    expectOutputs('utf8', { python: 'k=%E2%82%AC', sentry: 'k=%E2%82%AC', java: 'k=%E2%82%AC', go: 'k=%E2%82%AC', ours: 'k=%E2%82%AC' });
  });
});

describe('member shapes', () => {
  it('an empty value (k=): Sentry drops the member, every other SDK keeps it', () => {
    expectOutputs('empty', { python: 'k=,z=1', sentry: 'z=1', java: 'k=,z=1', go: 'k=,z=1', ours: 'k=,z=1' });
  });

  it('properties (with and without a value): Go, Java and this library keep them; Python and Sentry fold them into the value', () => {
    expectOutputs('propFlag', {
      python: 'k=v%3Bflag,z=1',
      sentry: 'k=v%3Bflag,z=1',
      java: 'k=v;flag,z=1',
      go: 'k=v;flag,z=1',
      ours: 'k=v;flag,z=1',
    });
    expectOutputs('propValue', { python: 'k=v%3Bp%3D1', sentry: 'k=v%3Bp%3D1', java: 'k=v;p=1', go: 'k=v;p=1', ours: 'k=v;p=1' });
  });

  it('a malformed member among valid ones is dropped alone by every SDK (Go reports it but keeps the rest)', () => {
    const rest = `${NEW},z=1`;
    expectOutputs('malformed', { python: rest, sentry: rest, java: sortedByKey(rest), go: rest, ours: `${NEW_UNSIGNED},z=1` });
    expect(go.malformed!.error).toBe('invalid baggage list-member: "novalue"');
    expect(go.malformed!.members).toHaveLength(5);
  });

  it('duplicate keys: every SDK keeps the last value, this library the first', () => {
    expectOutputs('duplicate', { python: 'k=2', sentry: 'k=2', java: 'k=2', go: 'k=2', ours: 'k=1' });
  });
});

describe('limits', () => {
  it('65 members: Java, Go and this library keep the first 64; Python and Sentry keep all 65', () => {
    expectOutputs('members65', { python: m(0, 65), sentry: m(0, 65), java: sortedByKey(m(0, 64)), go: m(0, 64), ours: m(0, 64) });
    expect(go.members65!.error).toBe('too many list-members in baggage-string');
  });

  it('the session entry after 64 other members: Java and Go lose it; Python, Sentry and this library keep it', () => {
    const all = INPUTS.sessionAfter64;
    expectOutputs('sessionAfter64', {
      python: all,
      sentry: all,
      java: sortedByKey(m(0, 64)),
      go: m(0, 64),
      ours: `${NEW_UNSIGNED},${m(0, 60)}`,
    });
    for (const sdk of ['java', 'go'] as const)
      expect({ sdk, entry: entryOfBaggage(out[sdk].sessionAfter64!) }).toEqual({ sdk, entry: undefined });
    for (const sdk of ['python', 'sentry10', 'sentry11'] as const) {
      expect({ sdk, entry: entryOfBaggage(out[sdk].sessionAfter64!) }).toEqual({ sdk, entry: FIXED_ENTRY });
    }
  });

  it('a header over 8192 bytes: Python, Java and Go drop all of it; Sentry and this library drop members that do not fit', () => {
    expect(INPUTS.over8192.length).toBe(10_219);
    const kept = `${P[0]},${P[1]},${P[2]}`;
    expectOutputs('over8192', { python: null, sentry: `${NEW},${kept}`, java: null, go: null, ours: `${NEW_UNSIGNED},${kept}` });
    expect(go.over8192!.error).toBe('baggage-string too large: 10219');
  });

  it('a member over 4096 bytes: Python drops it; every other SDK keeps it', () => {
    const big = `big=${x(4093)}`;
    expect(big.length).toBe(4097);
    expectOutputs('member4097', {
      python: NEW,
      sentry: `${NEW},${big}`,
      java: sortedByKey(`${NEW},${big}`),
      go: `${NEW},${big}`,
      ours: `${NEW_UNSIGNED},${big}`,
    });
  });
});
