// The AgentOps token: renewed before it expires (JWT `exp`, else the configured lifetime) and
// after the backend refuses it (401/403, the batch is sent once more with the new token);
// exchange failures are counted and logged, never thrown into user code.

import { afterEach, describe, expect, it } from 'vitest';
import { init, startSession, type InitHandle } from '../../src/index.js';
import { jwtExpiry } from '../../src/sdk/token.js';
import { otlpReceiver, type Receiver } from './otlp-receiver.js';

let handle: InitHandle | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  await receiver?.close();
  receiver = undefined;
});

/** An unsigned JWT expiring `seconds` from now (the library reads `exp` only; it never verifies). */
function jwt(seconds: number, n: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ exp: Math.floor(Date.now() / 1000) + seconds, n })}.sig`;
}

async function exportOne(): Promise<void> {
  startSession().end();
  await handle!.forceFlush();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('AgentOps token renewal', () => {
  it('reads exp from a JWT, and nothing from anything else', () => {
    const token = jwt(60, 1);
    expect(Math.abs(jwtExpiry(token)! - (Date.now() + 60_000))).toBeLessThan(2_000);
    expect(jwtExpiry('opaque-token')).toBeUndefined();
    expect(jwtExpiry('a.!!!.c')).toBeUndefined();
  });

  it('renews a JWT before its exp', async () => {
    receiver = await otlpReceiver({ issueToken: (n) => jwt(2, n) });
    handle = init({ apiKey: 'k', apiEndpoint: receiver.base, otlpEndpoint: receiver.url });
    await exportOne();
    await sleep(2_100);
    await exportOne();
    expect(receiver.tokenRequests).toBe(2);
    const auths = receiver.requests.map((r) => r.headers.authorization);
    expect(auths).toHaveLength(2);
    expect(auths[0]).not.toBe(auths[1]);
    expect(handle.stats()).toMatchObject({ tokenRenewals: 2, tokenFailures: 0, spansExported: 2, spansDropped: 0 });
  });

  it('renews an opaque token after tokenLifetimeMillis', async () => {
    receiver = await otlpReceiver({ issueToken: (n) => `opaque-${n}` });
    handle = init({ apiKey: 'k', apiEndpoint: receiver.base, otlpEndpoint: receiver.url, tokenLifetimeMillis: 500 });
    await exportOne();
    await exportOne();
    await sleep(600);
    await exportOne();
    expect(receiver.requests.map((r) => r.headers.authorization)).toEqual(['Bearer opaque-1', 'Bearer opaque-1', 'Bearer opaque-2']);
  });

  it.each([401, 403])('renews at once when the backend answers %i, and sends the batch again', async (status) => {
    receiver = await otlpReceiver({
      issueToken: (n) => `opaque-${n}`,
      answer: (req) => (req.headers.authorization === 'Bearer opaque-1' ? status : 200),
    });
    handle = init({ apiKey: 'k', apiEndpoint: receiver.base, otlpEndpoint: receiver.url });
    await exportOne();
    expect(receiver.tokenRequests).toBe(2);
    expect(receiver.requests.map((r) => r.headers.authorization)).toEqual(['Bearer opaque-2']);
    expect(handle.stats()).toMatchObject({ spansExported: 1, spansDropped: 0, tokenRenewals: 2 });
  });

  it('a failing exchange is counted and logged, never thrown; the spans are counted as dropped', async () => {
    receiver = await otlpReceiver({ issueToken: () => 500, answer: (req) => (req.headers.authorization === undefined ? 401 : 200) });
    const escaped: unknown[] = [];
    const onEscape = (err: unknown) => void escaped.push(err);
    process.on('unhandledRejection', onEscape);
    try {
      handle = init({ apiKey: 'k', apiEndpoint: receiver.base, otlpEndpoint: receiver.url });
      await exportOne();
      await exportOne();
      expect(handle.stats()).toMatchObject({ tokenFailures: 1, tokenRenewals: 0, spansExported: 0, spansDropped: 2 });
      // A failed exchange is retried after a pause, not once per export.
      expect(receiver.tokenRequests).toBe(1);
      expect(escaped).toEqual([]);
    } finally {
      process.off('unhandledRejection', onEscape);
    }
  });
});
