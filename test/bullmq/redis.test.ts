// Smoke test of the Redis the integration project runs against (see test/setup/services.ts).

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl } from '../services/env.js';

describe('redis', () => {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });

  afterAll(async () => {
    await redis.quit();
  });

  it('answers PING and stores and returns a value', async () => {
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');

    const key = `smoke:${randomUUID()}`;
    const value = `value-${randomUUID()}`;
    expect(await redis.set(key, value, 'EX', 60)).toBe('OK');
    expect(await redis.get(key)).toBe(value);
    expect(await redis.ttl(key)).toBeGreaterThan(0);
    expect(await redis.del(key)).toBe(1);
    expect(await redis.get(key)).toBeNull();
  });

  it('is a server BullMQ 5 accepts', async () => {
    const info = await redis.info('server');
    const version = /redis_version:(\d+)\.(\d+)/.exec(info);
    expect(version, info).not.toBeNull();
    const [major, minor] = [Number(version![1]), Number(version![2])];
    // BullMQ 5 needs Redis >= 5, and recommends >= 6.2 (it relies on newer commands when present).
    expect(major * 100 + minor).toBeGreaterThanOrEqual(602);
    // Any other eviction policy can silently drop queue keys; BullMQ warns about it on connect.
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    expect(policy).toBe('noeviction');
  });
});
