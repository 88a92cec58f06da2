// The session entry on the wire (issue 16): one member per field, the only form written; 0.1.0's
// single member with properties, and the one percent-encoded value OTel Python and Sentry turn it
// into, read as the same entry. A signature covers the decoded fields, so an entry forwarded by
// another SDK stays verifiable, and tampering is caught in every form.

import { defaultTextMapGetter, ROOT_CONTEXT } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { mergeSessionBaggage } from '../../src/carriers/header-merge.js';
import { createKeyring, signSessionEntry, verifySessionEntry } from '../../src/policy/signing.js';
import { parseBaggage, serializeBaggage } from '../../src/propagation/baggage.js';
import { sessionPropagator } from '../../src/propagator/session-propagator.js';
import { baggageSessionEntry } from '../../src/session/context.js';
import { SESSION_MEMBER, sessionEntryMembers, type SessionEntry } from '../../src/session/entry.js';

const SID = '4bf92f3577b34da6a3ce929d0e0e4736';
const OTHER = 'a3ce929d0e0e47364bf92f3577b34da6';
const ROOT = '00f067aa0ba902b7';
const keyring = createKeyring('session-entry-test-key-0123456789');
const entry: SessionEntry = { sessionId: SID, rootSpanId: ROOT, traceFlags: 3 };
const sig = signSessionEntry(entry, keyring, 1_790_000_000);

function read(baggage: string): SessionEntry | undefined {
  return baggageSessionEntry(sessionPropagator().extract(ROOT_CONTEXT, { baggage }, defaultTextMapGetter));
}

const members = `agentops.session.id=${SID},agentops.session.root=${ROOT},agentops.session.flags=03,agentops.session.sig=${sig}`;
const properties = `agentops.session.id=${SID};root=${ROOT};flags=03;sig=${sig}`;
// What OTel Python 1.x (quote_plus) and Sentry (encodeURIComponent) send on for 0.1.0's entry:
// the properties read as part of the value, re-encoded as one value.
const pythonForwarded = `agentops.session.id=${SID}%3Broot%3D${ROOT}%3Bflags%3D03%3Bsig%3D${sig}`;

describe('the session entry on the wire', () => {
  it('is written as one member per field, id first, only characters every codec leaves alone', () => {
    const header = serializeBaggage(
      [{ key: 'user', value: 'alice' }, ...sessionEntryMembers({ ...entry, signature: sig }).map(([key, value]) => ({ key, value }))],
      undefined,
      SESSION_MEMBER,
    );
    expect(header).toBe(`${members},user=alice`);
    expect(header).toMatch(/^[A-Za-z0-9._=,-]+$/);
  });

  it.each([
    ['members (0.2.0)', members],
    ['0.1.0 properties', properties],
    ['0.1.0 forwarded by OTel Python / Sentry as one encoded value', pythonForwarded],
    [
      'members among other members, any order',
      `user=a,agentops.session.sig=${sig},agentops.session.flags=03,agentops.session.id=${SID},x=1,agentops.session.root=${ROOT}`,
    ],
  ])('reads %s as the same entry, and its signature verifies', (_form, baggage) => {
    const read_ = read(baggage);
    expect(read_).toEqual({ ...entry, signature: sig });
    expect(verifySessionEntry(read_!, keyring, 1_790_000_000)).toBe('valid');
  });

  it.each([
    ['id swapped (members)', members.replace(SID, OTHER)],
    ['root swapped (members)', members.replace(ROOT, 'b7ad6b7169203331')],
    ['flags changed (members)', members.replace('flags=03', 'flags=01')],
    ['id swapped (encoded value)', pythonForwarded.replace(SID, OTHER)],
    ['root swapped (encoded value)', pythonForwarded.replace(ROOT, 'b7ad6b7169203331')],
    ['root swapped (properties)', properties.replace(ROOT, 'b7ad6b7169203331')],
  ])('a tampered entry fails verification: %s', (_name, baggage) => {
    const read_ = read(baggage);
    expect(read_).toBeDefined();
    expect(verifySessionEntry(read_!, keyring, 1_790_000_000)).toBe('forged');
  });

  it('reads the 0.1.0 form alone: members beside it are not mixed in', () => {
    // The victim's unsigned 0.1.0 entry beside someone's signature member: an unsigned entry.
    expect(read(`agentops.session.id=${OTHER};root=${ROOT},agentops.session.sig=${sig}`)).toEqual({ sessionId: OTHER, rootSpanId: ROOT });
    expect(read(`agentops.session.id=${OTHER}%3Broot%3D${ROOT},agentops.session.sig=${sig}`)).toEqual({
      sessionId: OTHER,
      rootSpanId: ROOT,
    });
  });

  it.each([
    ['an upper-case id', `agentops.session.id=${SID.toUpperCase()}`],
    ['an encoded value whose id is not 32 hex', `agentops.session.id=${SID.slice(1)}%3Broot%3D${ROOT}`],
    ['an encoded value with properties of its own', `agentops.session.id=${SID}%3Broot%3D${ROOT};flags=03`],
    ['an all-zero id', `agentops.session.id=${'0'.repeat(32)}`],
    ['an id with a space (a codec that turned + into a space)', `agentops.session.id=${SID}%20`],
  ])('refuses %s', (_name, baggage) => {
    expect(read(baggage)).toBeUndefined();
  });

  it('drops malformed fields and keeps the id', () => {
    expect(read(`agentops.session.id=${SID},agentops.session.root=XYZ,agentops.session.flags=3`)).toEqual({ sessionId: SID });
  });

  it('conflicting id members are all dropped; the companions count against the limits last but one', () => {
    expect(read(`agentops.session.id=${SID},agentops.session.id=${OTHER}`)).toBeUndefined();
    const crowd = Array.from({ length: 80 }, (_, i) => `k${i}=${'v'.repeat(200)}`).join(',');
    const parsed = parseBaggage(`${crowd},${members}`, undefined, SESSION_MEMBER).entries.map((item) => item.key);
    expect(parsed.filter((key) => key.startsWith('agentops.session.'))).toEqual([
      'agentops.session.id',
      'agentops.session.root',
      'agentops.session.flags',
      'agentops.session.sig',
    ]);
  });
});

describe('merging into headers that carry session members already', () => {
  it('our session replaces every member of theirs (no stale signature or root beside ours)', () => {
    const theirs = `agentops.session.id=${OTHER},agentops.session.root=b7ad6b7169203331,agentops.session.sig=${sig},tenant=acme`;
    const ours = `agentops.session.id=${SID},agentops.session.root=${ROOT},agentops.session.flags=03,user=alice`;
    expect(mergeSessionBaggage(theirs, ours)).toBe(
      `agentops.session.id=${SID},agentops.session.root=${ROOT},agentops.session.flags=03,tenant=acme,user=alice`,
    );
  });

  it('without a session of ours, theirs is kept as it is', () => {
    const theirs = `agentops.session.id=${OTHER},agentops.session.root=b7ad6b7169203331,tenant=acme`;
    expect(mergeSessionBaggage(theirs, 'user=alice')).toBe(`${theirs},user=alice`);
  });
});
