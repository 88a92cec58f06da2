import { describe, expect, it } from 'vitest';
import { CUT_MARK, readHeaderValue } from '../../src/propagation/carrier-values.js';

describe('readHeaderValue', () => {
  it('strings as they are, Buffers and Uint8Arrays decoded as UTF-8', () => {
    expect(readHeaderValue('a=1', 'single')).toBe('a=1');
    expect(readHeaderValue('', 'list')).toBe('');
    expect(readHeaderValue(Buffer.from('a=é'), 'single')).toBe('a=é');
    expect(readHeaderValue(new TextEncoder().encode('x=1'), 'list')).toBe('x=1');
    // A view into a larger buffer decodes only its own bytes.
    const big = Buffer.from('xxa=1yy');
    expect(readHeaderValue(big.subarray(2, 5), 'single')).toBe('a=1');
  });

  it("'single': one element is fine, a repeated header is invalid", () => {
    expect(readHeaderValue(['a'], 'single')).toBe('a');
    expect(readHeaderValue([Buffer.from('a')], 'single')).toBe('a');
    expect(readHeaderValue(['a', 'b'], 'single')).toBeUndefined();
    expect(readHeaderValue(['a', 'a'], 'single')).toBeUndefined();
    expect(readHeaderValue([], 'single')).toBeUndefined();
  });

  it("'list': elements joined with ',', unusable elements skipped", () => {
    expect(readHeaderValue(['a=1', Buffer.from('b=2')], 'list')).toBe('a=1,b=2');
    expect(readHeaderValue(['a=1', null, 3, 'b=2'], 'list')).toBe('a=1,b=2');
    expect(readHeaderValue([], 'list')).toBeUndefined();
    expect(readHeaderValue([null], 'list')).toBeUndefined();
  });

  it.each([null, undefined, 42, 0n, true, {}, { toString: () => 'a=1' }, Symbol('x'), () => 'a', new Date(), [['a']]])(
    'anything else is undefined: %s',
    (raw) => {
      expect(readHeaderValue(raw, 'single')).toBeUndefined();
    },
  );

  it('never throws, even on hostile objects', () => {
    const hostile = new Proxy([], {
      get() {
        throw new Error('boom');
      },
    });
    const hostileProto = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('boom');
        },
      },
    );
    expect(readHeaderValue(hostile, 'list')).toBeUndefined();
    expect(readHeaderValue(hostileProto, 'single')).toBeUndefined();
  });

  it('with a limit: reads at most `limit` characters and marks the cut', () => {
    expect(readHeaderValue('abcdef', 'single', 10)).toBe('abcdef');
    expect(readHeaderValue('abcdef', 'single', 6)).toBe('abcdef');
    expect(readHeaderValue('abcdef', 'single', 3)).toBe(`abc${CUT_MARK}`);
    expect(readHeaderValue(Buffer.from('abcdef'), 'single', 3)).toBe(`abc${CUT_MARK}`);
    expect(readHeaderValue(['abc', 'def'], 'list', 5)).toBe(`abc,d${CUT_MARK}`);
    expect(readHeaderValue(['abc', 'def'], 'list', 7)).toBe('abc,def');
    expect(readHeaderValue(['abc', 'def', 'g'], 'list', 7)).toBe(`abc,def${CUT_MARK}`);
    // A Buffer of 1 MB is not decoded past the limit.
    const mb = Buffer.alloc(1024 * 1024, 0x61);
    expect(readHeaderValue(mb, 'list', 100)).toHaveLength(101);
  });
});

describe('resolveLimits', () => {
  it('overlays valid fields on the defaults and ignores invalid ones', async () => {
    const { DEFAULT_LIMITS, resolveLimits } = await import('../../src/propagation/limits.js');
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ maxBaggageMembers: 100.7, maxScanBytes: Infinity })).toMatchObject({
      maxBaggageMembers: 100,
      maxScanBytes: Infinity,
      maxBaggageBytes: 8192,
    });
    expect(resolveLimits({ maxBaggageBytes: NaN, maxScanMembers: -1, maxTracestateLength: '9' as unknown as number })).toEqual(
      DEFAULT_LIMITS,
    );
    expect(resolveLimits(null as unknown as undefined)).toEqual(DEFAULT_LIMITS);
  });
});
