import { BoundedCache } from '../base/bounded-cache.js';
import { signSessionEntry, type SigningKeyring } from '../policy/signing.js';
import type { SessionEntry } from '../session/entry.js';

interface CachedSignature {
  key: string;
  signature: string;
  refreshAt: number;
}

/** Signatures cached at most per keyring. */
const SIGNATURES_PER_KEYRING = 10_000;

// An HMAC per message is measurable; a signature stays good for half its lifetime. One cache per
// keyring: two keyrings may share a key id ('k0' by default) with different secrets.
const signatureCaches = new WeakMap<SigningKeyring, BoundedCache<string, CachedSignature>>();

/** `entry` (its id, root and flags; any signature it had dropped) signed afresh with the active key. */
export function signedEntry(entry: SessionEntry, keyring: SigningKeyring): SessionEntry {
  let cache = signatureCaches.get(keyring);
  if (cache === undefined) {
    cache = new BoundedCache(SIGNATURES_PER_KEYRING);
    signatureCaches.set(keyring, cache);
  }
  const now = Math.floor(Date.now() / 1000);
  const cacheKey = `${keyring.activeKeyId}|${entry.sessionId}|${entry.rootSpanId ?? ''}|${entry.traceFlags ?? ''}`;
  const cached = cache.get(entry.sessionId);
  if (cached !== undefined && cached.key === cacheKey && cached.refreshAt > now) return { ...entry, signature: cached.signature };
  const unsigned: SessionEntry = { sessionId: entry.sessionId };
  if (entry.rootSpanId !== undefined) unsigned.rootSpanId = entry.rootSpanId;
  if (entry.traceFlags !== undefined) unsigned.traceFlags = entry.traceFlags;
  const signature = signSessionEntry(unsigned, keyring, now);
  cache.set(entry.sessionId, { key: cacheKey, signature, refreshAt: now + Math.floor(keyring.ttlSeconds / 2) });
  return { ...unsigned, signature };
}
