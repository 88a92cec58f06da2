// Types for scripts/redis.mjs, which the vitest global setup (TypeScript) imports.

export interface RedisHandle {
  /** The REDIS_URL to connect to (unredacted). */
  url: string;
  /** True only if this call started redis-server; stop() is a no-op otherwise. */
  started: boolean;
  pid?: number;
  /** Stops redis-server if this call started it; resolves true if something was stopped. */
  stop(): Promise<boolean>;
}

export interface RedisTarget {
  url: string;
  host: string;
  port: number;
  tls: boolean;
  username: string;
  password: string;
  local: boolean;
}

export type RedisProbeResult = { ok: true } | { ok: false; reachable: boolean; error: string };

export function redisTarget(env?: NodeJS.ProcessEnv): RedisTarget;
export function probeRedis(target: RedisTarget, timeoutMs?: number): Promise<RedisProbeResult>;
export function ensureRedis(options?: { log?: (message: string) => void }): Promise<RedisHandle>;
/** Stops the redis-server started on `port`, or every one this script started. */
export function stopRedis(options?: { log?: (message: string) => void; port?: number }): Promise<boolean>;
/** The URL with its password masked, for logs. */
export function redactRedisUrl(url: string): string;
export function redisStatus(): Promise<{ url: string; answering: boolean; error?: string; ownPid: number | null }>;
