import { describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/index.js';
import { signSessionEntry, verifySessionEntry } from '../../src/policy/signing.js';

const entry = { sessionId: '4bf92f3577b34da6a3ce929d0e0e4736', rootSpanId: '00f067aa0ba902b7', traceFlags: 3 };
const ring = createKeyring({ keys: { a: 'first-secret-0123456789', b: 'second-secret-0123456789' }, activeKeyId: 'a', ttlSeconds: 60 });

describe('signing', () => {
  it('signs and verifies; each covered field is tamper-evident', () => {
    const now = 1_800_000_000;
    const signature = signSessionEntry(entry, ring, now);
    expect(verifySessionEntry({ ...entry, signature }, ring, now)).toBe('valid');
    expect(verifySessionEntry({ ...entry, sessionId: 'f'.repeat(32), signature }, ring, now)).toBe('forged');
    expect(verifySessionEntry({ ...entry, rootSpanId: '1'.repeat(16), signature }, ring, now)).toBe('forged');
    expect(verifySessionEntry({ ...entry, traceFlags: 1, signature }, ring, now)).toBe('forged');
    expect(verifySessionEntry({ ...entry, signature: signature.replace('.a.', '.b.') }, ring, now)).toBe('forged');
  });

  it('accepts only the canonical MAC text: every other character in any position is refused', () => {
    // The last base64url character of a 32-byte MAC carries two unused bits: decoding alone would
    // take four spellings as one MAC (CI caught a "MAC altered" attack accepted that way).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let t = 0; t < 20; t++) {
      const now = 1_800_000_000 + t;
      const signature = signSessionEntry(entry, ring, now);
      const mac = signature.slice(signature.lastIndexOf('.') + 1);
      const head = signature.slice(0, signature.length - mac.length);
      for (const position of [0, 21, 42]) {
        for (const c of alphabet) {
          if (c === mac[position]) continue;
          const altered = head + mac.slice(0, position) + c + mac.slice(position + 1);
          expect(verifySessionEntry({ ...entry, signature: altered }, ring, now)).toBe('forged');
        }
      }
    }
  });

  it('expires after ttl plus the allowed clock skew', () => {
    const signature = signSessionEntry(entry, ring, 1000);
    expect(verifySessionEntry({ ...entry, signature }, ring, 1000 + 60 + 300)).toBe('valid');
    expect(verifySessionEntry({ ...entry, signature }, ring, 1000 + 60 + 301)).toBe('expired');
  });

  it.each([
    [undefined, 'unsigned'],
    ['v2.a.1.x', 'malformed'],
    ['v1.a.notanumber.' + 'A'.repeat(43), 'malformed'],
    ['v1.zz.99999999999.' + 'A'.repeat(43), 'unknown-key'],
    ['v1.a.99999999999.' + 'A'.repeat(43), 'forged'],
  ])('classifies %s as %s', (signature, verdict) => {
    expect(verifySessionEntry({ ...entry, ...(signature ? { signature } : {}) }, ring)).toBe(verdict);
  });

  it('defect 4 (issue 13): an expiry with leading zeros is refused, though its MAC matches the number', () => {
    const now = 1_800_000_000;
    const signature = signSessionEntry(entry, ring, now);
    const [version, kid, expiry, mac] = signature.split('.') as [string, string, string, string];
    expect(verifySessionEntry({ ...entry, signature }, ring, now)).toBe('valid');
    expect(verifySessionEntry({ ...entry, signature: `${version}.${kid}.00${expiry}.${mac}` }, ring, now)).toBe('malformed');
    expect(verifySessionEntry({ ...entry, signature: `${version}.${kid}.0.${mac}` }, ring, now)).toBe('malformed');
  });

  it('defect 4 (issue 13): an expiry beyond now + lifetime + 5 min skew is refused, even signed with a key of the ring', () => {
    const now = 1_800_000_000;
    // A key of the ring used by a signer with a ten-year lifetime (or a wrong clock).
    const longLived = createKeyring({ keys: { a: 'first-secret-0123456789' }, activeKeyId: 'a', ttlSeconds: 10 * 365 * 86_400 });
    const yearsAhead = signSessionEntry(entry, longLived, now);
    expect(verifySessionEntry({ ...entry, signature: yearsAhead }, ring, now)).toBe('beyond-lifetime');
    // The verifier's own lifetime (60 s here) plus the skew is the bound, to the second.
    const atBound = createKeyring({ keys: { a: 'first-secret-0123456789' }, activeKeyId: 'a', ttlSeconds: 60 + 300 });
    expect(verifySessionEntry({ ...entry, signature: signSessionEntry(entry, atBound, now) }, ring, now)).toBe('valid');
    expect(verifySessionEntry({ ...entry, signature: signSessionEntry(entry, atBound, now + 1) }, ring, now)).toBe('beyond-lifetime');
    // The default lifetime stays a day: a day-old signer's entry is still good at the last second.
    const daily = createKeyring('first-secret-0123456789');
    expect(daily.ttlSeconds).toBe(86_400);
    const signed = signSessionEntry(entry, daily, now);
    expect(verifySessionEntry({ ...entry, signature: signed }, daily, now + 86_400)).toBe('valid');
  });

  it('remembers MAC checks per keyring: the same signature under another secret with the same key id is checked afresh', () => {
    const entry = { sessionId: 'a'.repeat(32), rootSpanId: 'b'.repeat(16), traceFlags: 3 };
    const ours = createKeyring('remembered-secret-one-0123456789');
    const other = createKeyring('remembered-secret-two-0123456789');
    const now = 1_790_000_000;
    const signature = signSessionEntry(entry, ours, now);
    for (let i = 0; i < 3; i++) {
      expect(verifySessionEntry({ ...entry, signature }, ours, now)).toBe('valid');
      expect(verifySessionEntry({ ...entry, signature }, other, now)).toBe('forged');
      // The same signature over other fields is another question.
      expect(verifySessionEntry({ ...entry, traceFlags: 1, signature }, ours, now)).toBe('forged');
    }
    // The expiry is checked on every call, remembered MAC or not.
    expect(verifySessionEntry({ ...entry, signature }, ours, now + 2 * 86_400)).toBe('expired');
    // A frozen entry (as the session module hands them on) is remembered by object, still per keyring and expiry.
    const frozen = Object.freeze({ ...entry, signature });
    const frozenOtherFields = Object.freeze({ ...entry, traceFlags: 1, signature });
    for (let i = 0; i < 3; i++) {
      expect(verifySessionEntry(frozen, ours, now)).toBe('valid');
      expect(verifySessionEntry(frozen, other, now)).toBe('forged');
      expect(verifySessionEntry(frozenOtherFields, ours, now)).toBe('forged');
      expect(verifySessionEntry(frozen, ours, now + 2 * 86_400)).toBe('expired');
    }
  });

  it('rejects bad configuration with clear errors', () => {
    expect(() => createKeyring('short')).toThrow(/at least 16 bytes/);
    expect(() => createKeyring({ keys: { a: 'first-secret-0123456789' }, activeKeyId: 'b' })).toThrow(/not among the keys/);
    expect(() => createKeyring({ keys: { 'bad id!': 'first-secret-0123456789' }, activeKeyId: 'bad id!' })).toThrow(/must match/);
    expect(() => createKeyring(42 as never)).toThrow(TypeError);
  });
});
